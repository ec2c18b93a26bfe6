"""Xcode build-setting references left in Info.plists: ``$(VAR)`` and ``${VAR}``.

Xcode expands build settings in a target's Info.plist when it builds the bundle, so
a real, built kext never contains them.  Source plists do (``shared/spec/
iokit-matching.md`` §5.2): IOFireWireFamily's ``CFBundleIdentifier`` is
``$(PRODUCT_BUNDLE_IDENTIFIER)``, AppleUSBXHCI's ``CFBundleExecutable`` is
``${EXECUTABLE_NAME}``, IOGraphics' ``CFBundleVersion`` is
``$(CURRENT_PROJECT_VERSION)``.  kextlab plays that build step when it reads a
bundle, with the settings it can derive from the bundle itself:

===============================  ==========================================================
``PRODUCT_NAME``                 the bundle directory's stem (``IOFireWireFamily`` for
                                 ``IOFireWireFamily.kext``)
``EXECUTABLE_NAME``              ``CFBundleExecutable`` if it is literal, else
                                 ``PRODUCT_NAME`` (Xcode's default: prefix and suffix
                                 are empty for kexts)
``PRODUCT_BUNDLE_IDENTIFIER``    ``CFBundleIdentifier`` if it is literal, or once its
                                 other references are expanded; if it *is*
                                 ``$(PRODUCT_BUNDLE_IDENTIFIER)``, the one identifier
                                 every personality that states one names (recorded as a
                                 warning, since it is a guess)
``MODULE_NAME``                  the bundle identifier (the kmod name Xcode's kext
                                 targets use)
``CURRENT_PROJECT_VERSION``,     ``CFBundleVersion`` if it is literal
``MODULE_VERSION``
``MARKETING_VERSION``            ``CFBundleShortVersionString`` if it is literal
===============================  ==========================================================

Settings passed explicitly (``KextBundle.read(path, variables=...)``) win over
derived ones.  Modifiers: ``:rfc1034identifier`` (every character outside
``[A-Za-z0-9.-]`` becomes ``-``), ``:identifier`` and ``:c99extidentifier``
(outside ``[A-Za-z0-9_]`` becomes ``_``, and a leading digit gets a ``_`` in
front), ``:lower``, ``:upper``; several may be chained (``$(VAR:lower:identifier)``).

Only string *values* are expanded (dictionary keys never carry references).  A
reference to an unknown setting, or with an unknown modifier, is left as it is and
reported in the returned warnings; a bundle whose identifier or version is still a
reference afterwards is then refused by the bundle reader, naming the setting to pass.

Threading rules: pure functions, usable anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Final

#: ``$(NAME)``, ``${NAME}``, each with optional ``:modifier`` suffixes.
REFERENCE: Final = re.compile(
    r"\$\((?P<paren>[A-Za-z_][A-Za-z0-9_]*)(?P<paren_mods>(?::[A-Za-z0-9_]+)*)\)"
    r"|\$\{(?P<brace>[A-Za-z_][A-Za-z0-9_]*)(?P<brace_mods>(?::[A-Za-z0-9_]+)*)\}"
)


def _rfc1034identifier(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.\-]", "-", text)


def _identifier(text: str) -> str:
    result = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return f"_{result}" if result[:1].isdigit() else result


MODIFIERS: Final[Mapping[str, Callable[[str], str]]] = {
    "rfc1034identifier": _rfc1034identifier,
    "identifier": _identifier,
    "c99extidentifier": _identifier,
    "lower": str.lower,
    "upper": str.upper,
}


def has_references(text: str) -> bool:
    """Whether ``text`` contains a ``$(...)`` or ``${...}`` reference."""
    return REFERENCE.search(text) is not None


def expand(text: str, settings: Mapping[str, str]) -> tuple[str, list[str]]:
    """``text`` with every reference to a known setting expanded.

    Returns the text and the references it had to leave (unknown setting or
    modifier), as written.
    """
    unresolved: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match["paren"] or match["brace"]
        modifiers = (match["paren_mods"] or match["brace_mods"] or "").split(":")[1:]
        value = settings.get(name)
        if value is None or any(modifier not in MODIFIERS for modifier in modifiers):
            unresolved.append(match[0])
            return match[0]
        for modifier in modifiers:
            value = MODIFIERS[modifier](value)
        return value

    return REFERENCE.sub(replace, text), unresolved


def derive_settings(
    info: Mapping[str, object], product_name: str, overrides: Mapping[str, str] | None = None
) -> tuple[dict[str, str], list[str]]:
    """The build settings a bundle's own Info.plist lets us know (see the module
    docstring), with ``overrides`` applied; and notes about guesses made."""
    explicit = dict(overrides or {})
    notes: list[str] = []
    settings: dict[str, str] = {"PRODUCT_NAME": product_name}
    settings.update(explicit)

    def literal(key: str) -> str | None:
        value = info.get(key)
        return value if isinstance(value, str) and not has_references(value) else None

    executable = literal("CFBundleExecutable")
    settings.setdefault("EXECUTABLE_NAME", executable or settings["PRODUCT_NAME"])

    if "PRODUCT_BUNDLE_IDENTIFIER" not in settings:
        identifier = info.get("CFBundleIdentifier")
        if isinstance(identifier, str):
            expanded, unresolved = expand(identifier, settings)
            if not unresolved:
                settings["PRODUCT_BUNDLE_IDENTIFIER"] = expanded
            else:
                named = _personalities_identifier(info)
                if named is not None:
                    settings["PRODUCT_BUNDLE_IDENTIFIER"] = named
                    notes.append(
                        f"PRODUCT_BUNDLE_IDENTIFIER taken as {named!r}, the identifier "
                        "its personalities name"
                    )
    if "PRODUCT_BUNDLE_IDENTIFIER" in settings:
        settings.setdefault("MODULE_NAME", settings["PRODUCT_BUNDLE_IDENTIFIER"])

    version = literal("CFBundleVersion")
    if version is not None:
        settings.setdefault("CURRENT_PROJECT_VERSION", version)
        settings.setdefault("MODULE_VERSION", version)
    short_version = literal("CFBundleShortVersionString")
    if short_version is not None:
        settings.setdefault("MARKETING_VERSION", short_version)
    return settings, notes


def _personalities_identifier(info: Mapping[str, object]) -> str | None:
    """The single literal CFBundleIdentifier the personalities state, if exactly one."""
    personalities = info.get("IOKitPersonalities")
    if not isinstance(personalities, Mapping):
        return None
    named = {
        personality.get("CFBundleIdentifier")
        for personality in personalities.values()
        if isinstance(personality, Mapping)
        and isinstance(personality.get("CFBundleIdentifier"), str)
    }
    if len(named) != 1:
        return None
    (identifier,) = named
    return identifier if isinstance(identifier, str) and not has_references(identifier) else None


def substitute(
    value: object, settings: Mapping[str, str], where: str, warnings: list[str]
) -> object:
    """A copy of the plist value ``value`` with references expanded.

    ``where`` names the value (``CFBundleIdentifier``,
    ``IOKitPersonalities['X']['IOClass']``) in the warnings appended for references
    left unexpanded.  Containers are copied; other values are returned as they are.
    """
    if isinstance(value, str):
        expanded, unresolved = expand(value, settings)
        warnings.extend(
            f"{where}: unknown Xcode build setting {reference} left as it is"
            for reference in unresolved
        )
        return expanded
    if isinstance(value, Mapping):
        return {
            key: substitute(item, settings, f"{where}[{key!r}]", warnings)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [
            substitute(item, settings, f"{where}[{index}]", warnings)
            for index, item in enumerate(value)
        ]
    return value
