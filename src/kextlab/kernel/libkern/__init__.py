"""libkern: OSObject, OSMetaClass and the OS value and collection types.

Public surface::

    OSObject, OSMetaClass, ClassRegistry, OSDynamicCast, OSTypeAlloc, OSSerializer
    OSString, OSSymbol, OSNumber, OSData, OSBoolean, kOSBooleanTrue, kOSBooleanFalse
    OSArray, OSDictionary, OSSet, OSOrderedSet, OSCollectionIterator
    OSSerialize, OSUnserializeXML          kernel-format XML
    from_python, to_user                   Python values in, user-space copies out
"""

from kextlab.kernel.libkern.collections import (
    OSArray,
    OSCollection,
    OSCollectionIterator,
    OSDictionary,
    OSOrderedSet,
    OSSet,
)
from kextlab.kernel.libkern.convert import UserSet, from_python, to_user
from kextlab.kernel.libkern.object import (
    ClassRegistry,
    OSDynamicCast,
    OSMetaClass,
    OSObject,
    OSSerializer,
    OSTypeAlloc,
    current_class_registry,
)
from kextlab.kernel.libkern.serialize import OSSerialize, OSUnserializeXML, XMLFormatError
from kextlab.kernel.libkern.values import (
    OSBoolean,
    OSData,
    OSNumber,
    OSString,
    OSSymbol,
    kOSBooleanFalse,
    kOSBooleanTrue,
)

__all__ = [
    "ClassRegistry",
    "OSArray",
    "OSBoolean",
    "OSCollection",
    "OSCollectionIterator",
    "OSData",
    "OSDictionary",
    "OSDynamicCast",
    "OSMetaClass",
    "OSNumber",
    "OSObject",
    "OSOrderedSet",
    "OSSerialize",
    "OSSerializer",
    "OSSet",
    "OSString",
    "OSSymbol",
    "OSTypeAlloc",
    "OSUnserializeXML",
    "UserSet",
    "XMLFormatError",
    "current_class_registry",
    "from_python",
    "kOSBooleanFalse",
    "kOSBooleanTrue",
    "to_user",
]
