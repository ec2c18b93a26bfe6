"""Xcode build-setting references in source Info.plists: what is derived and expanded."""

from __future__ import annotations

import pytest

from kextlab.kernel.kext.xcode import derive_settings, expand, has_references, substitute


def test_both_reference_spellings_are_expanded() -> None:
    """$(VAR) and ${VAR} mean the same."""
    text, unresolved = expand("$(PRODUCT_NAME)-${PRODUCT_NAME}", {"PRODUCT_NAME": "Foo"})
    assert text == "Foo-Foo"
    assert unresolved == []


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("$(PRODUCT_NAME:rfc1034identifier)", "My-Driver-2.0-x"),
        ("$(PRODUCT_NAME:identifier)", "My_Driver_2_0_x"),
        ("$(PRODUCT_NAME:c99extidentifier)", "My_Driver_2_0_x"),
        ("$(PRODUCT_NAME:lower)", "my driver_2.0+x"),
        ("${PRODUCT_NAME:upper}", "MY DRIVER_2.0+X"),
        ("$(PRODUCT_NAME:rfc1034identifier:lower)", "my-driver-2.0-x"),
    ],
)
def test_modifiers_transform_the_value(reference: str, expected: str) -> None:
    """rfc1034identifier keeps [A-Za-z0-9.-] and turns the rest into '-'; others as named."""
    text, unresolved = expand(reference, {"PRODUCT_NAME": "My Driver_2.0+x"})
    assert text == expected
    assert unresolved == []


def test_identifier_modifier_prefixes_a_leading_digit() -> None:
    """A C identifier cannot start with a digit."""
    assert expand("$(PRODUCT_NAME:identifier)", {"PRODUCT_NAME": "3com"})[0] == "_3com"


def test_unknown_settings_and_modifiers_are_left_as_written() -> None:
    """What cannot be expanded stays, and is reported."""
    text, unresolved = expand("a $(NOPE) b $(PRODUCT_NAME:weird)", {"PRODUCT_NAME": "X"})
    assert text == "a $(NOPE) b $(PRODUCT_NAME:weird)"
    assert unresolved == ["$(NOPE)", "$(PRODUCT_NAME:weird)"]


def test_text_without_references_is_untouched() -> None:
    """Dollar signs that are not references stay."""
    assert not has_references("costs $5 (or $(6))")
    assert expand("costs $5", {})[0] == "costs $5"


def test_settings_are_derived_from_literal_keys_and_the_bundle_name() -> None:
    """PRODUCT_NAME, EXECUTABLE_NAME, PRODUCT_BUNDLE_IDENTIFIER, MODULE_*, versions."""
    info = {
        "CFBundleIdentifier": "com.example.driver",
        "CFBundleExecutable": "Driver",
        "CFBundleVersion": "1.2.3",
        "CFBundleShortVersionString": "1.2",
    }
    settings, notes = derive_settings(info, "MyDriver")
    assert settings == {
        "PRODUCT_NAME": "MyDriver",
        "EXECUTABLE_NAME": "Driver",
        "PRODUCT_BUNDLE_IDENTIFIER": "com.example.driver",
        "MODULE_NAME": "com.example.driver",
        "CURRENT_PROJECT_VERSION": "1.2.3",
        "MODULE_VERSION": "1.2.3",
        "MARKETING_VERSION": "1.2",
    }
    assert notes == []


def test_an_identifier_built_from_other_settings_is_derived() -> None:
    """Xcode's template identifier com.x.$(PRODUCT_NAME:rfc1034identifier) expands."""
    info = {"CFBundleIdentifier": "com.x.$(PRODUCT_NAME:rfc1034identifier)"}
    settings, _ = derive_settings(info, "My Driver")
    assert settings["PRODUCT_BUNDLE_IDENTIFIER"] == "com.x.My-Driver"
    assert settings["EXECUTABLE_NAME"] == "My Driver"


def test_a_bare_product_bundle_identifier_is_taken_from_the_personalities() -> None:
    """When every personality names the same identifier, that is the guess, noted."""
    info = {
        "CFBundleIdentifier": "$(PRODUCT_BUNDLE_IDENTIFIER)",
        "IOKitPersonalities": {
            "A": {"CFBundleIdentifier": "com.apple.iokit.IOFireWireFamily"},
            "B": {"IOClass": "X"},
        },
    }
    settings, notes = derive_settings(info, "IOFireWireFamily")
    assert settings["PRODUCT_BUNDLE_IDENTIFIER"] == "com.apple.iokit.IOFireWireFamily"
    assert "personalities name" in notes[0]


def test_personalities_naming_different_identifiers_give_no_guess() -> None:
    """Two identifiers among the personalities: nothing is derived."""
    info = {
        "CFBundleIdentifier": "$(PRODUCT_BUNDLE_IDENTIFIER)",
        "IOKitPersonalities": {
            "A": {"CFBundleIdentifier": "com.a"},
            "B": {"CFBundleIdentifier": "com.b"},
        },
    }
    settings, notes = derive_settings(info, "X")
    assert "PRODUCT_BUNDLE_IDENTIFIER" not in settings
    assert "MODULE_NAME" not in settings
    assert notes == []


def test_explicit_settings_win_over_derived_ones() -> None:
    """A caller's variables are the build settings of record."""
    info = {"CFBundleIdentifier": "com.example.a", "CFBundleVersion": "$(CURRENT_PROJECT_VERSION)"}
    settings, _ = derive_settings(
        info, "A", {"CURRENT_PROJECT_VERSION": "600.0.1", "PRODUCT_NAME": "Other"}
    )
    assert settings["CURRENT_PROJECT_VERSION"] == "600.0.1"
    assert settings["PRODUCT_NAME"] == "Other"
    assert "MODULE_VERSION" not in settings


def test_substitution_walks_dictionaries_and_arrays_and_reports_each_leftover() -> None:
    """Every string value is expanded; other values and keys are kept as they are."""
    warnings: list[str] = []
    value = {
        "$(KEY)": "$(PRODUCT_NAME)",
        "list": ["${PRODUCT_NAME}", 3, "$(UNKNOWN)"],
        "flag": True,
    }
    result = substitute(value, {"PRODUCT_NAME": "P"}, "Root", warnings)
    assert result == {"$(KEY)": "P", "list": ["P", 3, "$(UNKNOWN)"], "flag": True}
    assert warnings == ["Root['list'][2]: unknown Xcode build setting $(UNKNOWN) left as it is"]
