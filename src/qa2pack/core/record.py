"""Plain-data classes that cost next to nothing to define, for a tool that starts on every run.

The standard ``dataclasses`` compiles five or six functions for every class when its module is
imported (about 0.1 ms each), and loads ``inspect`` on the way: 35 ms of every run's start-up,
where a whole ``hard`` run of 12,000 small files takes about 200 ms.  A :func:`record` class gets the
same behaviour from functions shared by every record (``repr``, ``==``, ``hash``, immutability);
only its ``__init__`` is generated, and only when the class is first used, so a run compiles the
few it needs.
"""

from __future__ import annotations

from operator import attrgetter
from typing import TYPE_CHECKING, Any, Callable, TypeVar, overload

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:

    def dataclass_transform(**_: Any) -> Callable[[Any], Any]:
        return lambda function: function


T = TypeVar("T")


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
_MUTABLE_DEFAULTS = (list, dict, set)


class FrozenRecordError(AttributeError):
    """A field of an immutable record was assigned or deleted."""


class Field:
    """One field of a record: its name, how ``__init__`` fills it, and what it takes part in."""

    __slots__ = ("name", "default", "default_factory", "init", "repr", "compare")

    def __init__(self, default: Any = MISSING, default_factory: Any = MISSING, init: bool = True,
                 repr: bool = True, compare: bool = True) -> None:  # noqa: A002 - the dataclasses name
        if default is not MISSING and default_factory is not MISSING:
            raise ValueError("a field cannot have both a default and a default_factory")
        self.name = ""
        self.default = default
        self.default_factory = default_factory
        self.init = init
        self.repr = repr
        self.compare = compare

    def __repr__(self) -> str:
        return f"Field({self.name!r})"


def field(*, default: Any = MISSING, default_factory: Callable[[], Any] | Any = MISSING, init: bool = True,
          repr: bool = True, compare: bool = True) -> Any:  # noqa: A002 - the dataclasses name
    """Describe a field beyond its default: a factory, or kept out of init, repr or ==."""
    return Field(default, default_factory, init, repr, compare)


@overload
def record(cls: type[T]) -> type[T]: ...


@overload
def record(*, frozen: bool = True, slots: bool = True) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(field, Field))
def record(cls: type[T] | None = None, *, frozen: bool = True, slots: bool = True) -> Any:
    """Make ``cls`` a record of its annotated fields, immutable unless ``frozen=False``.

    Its instances have slots, not a ``__dict__`` (small, and a misspelt attribute fails), unless
    ``slots=False``.
    """

    def wrap(cls: type[T]) -> type[T]:
        return _make_record(cls, frozen, slots)

    return wrap if cls is None else wrap(cls)


def replace(obj: T, **changes: Any) -> T:
    """Return a copy of the record ``obj`` with the named fields changed."""
    for each in fields(obj):
        if each.init and each.name not in changes:
            changes[each.name] = getattr(obj, each.name)
    return type(obj)(**changes)


def fields(record_or_class: Any) -> tuple[Field, ...]:
    """Return the fields of a record, or of a record class, in the order they were declared."""
    found: tuple[Field, ...] = record_or_class.__record_fields__
    return found


def as_dict(obj: Any) -> dict[str, Any]:
    """Return the record's fields by name (the values themselves, not copies)."""
    return {each.name: getattr(obj, each.name) for each in fields(obj)}


def _make_record(cls: type[T], frozen: bool, slots: bool) -> type[T]:
    if any(hasattr(base, "__record_fields__") for base in cls.__mro__[1:]):
        raise TypeError(f"{cls.__name__}: a record cannot extend another record (its fields would be lost)")
    declared = _collect_fields(cls)
    if slots and "__slots__" not in cls.__dict__:
        cls = _with_slots(cls, tuple(each.name for each in declared))
    compared = [each.name for each in declared if each.compare]
    methods: dict[str, Any] = {
        "__record_fields__": declared,
        "__record_frozen__": frozen,
        "_record_key": attrgetter(*compared) if compared else _no_key,
        "_record_shown": tuple(each.name for each in declared if each.repr),
    }
    own = cls.__dict__
    if "__init__" not in own:
        methods["__init__"] = _InitOnFirstUse(cls)
    if "__repr__" not in own:
        methods["__repr__"] = _repr
    if "__eq__" not in own:
        methods["__eq__"] = _eq
        if own.get("__hash__") is None:
            methods["__hash__"] = _hash if frozen else None
    if frozen:
        if "__setattr__" in own or "__delattr__" in own:
            raise TypeError(f"{cls.__name__} is frozen and cannot define __setattr__ or __delattr__")
        methods.update(__setattr__=_frozen_setattr, __delattr__=_frozen_delattr)
        if slots:
            methods.update(__getstate__=_getstate, __setstate__=_setstate)
    for name, value in methods.items():
        setattr(cls, name, value)
    return cls


def _collect_fields(cls: type) -> tuple[Field, ...]:
    found: list[Field] = []
    seen_default = False
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():
        if isinstance(annotation, str) and annotation.startswith(("ClassVar", "typing.ClassVar")):
            continue
        value = cls.__dict__.get(name, MISSING)
        each = value if isinstance(value, Field) else Field(default=value)
        each.name = name
        if isinstance(each.default, _MUTABLE_DEFAULTS):
            raise ValueError(f"{cls.__name__}.{name}: a mutable default needs default_factory")
        has_default = each.default is not MISSING or each.default_factory is not MISSING
        if each.init:
            if seen_default and not has_default:
                raise TypeError(f"{cls.__name__}.{name}: a field without a default follows one with a default")
            seen_default = seen_default or has_default
        if isinstance(value, Field):  # the class keeps a plain default, as for any class attribute
            if each.default is MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, each.default)
        found.append(each)
    return tuple(found)


def _with_slots(cls: type[T], names: tuple[str, ...]) -> type[T]:
    namespace = {key: value for key, value in cls.__dict__.items()
                 if key not in names and key not in ("__dict__", "__weakref__")}
    namespace["__slots__"] = names
    slotted: type[T] = type(cls.__name__, cls.__bases__, namespace)
    slotted.__qualname__ = cls.__qualname__
    return slotted


class _InitOnFirstUse:
    """A record's ``__init__`` until the class is first used; then the compiled one replaces it.

    Looking the method up (as ``help`` and the docs do) counts as a use.
    """

    __slots__ = ("owner",)

    def __init__(self, owner: type) -> None:
        self.owner = owner

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        init = _compile_init(self.owner)
        return init if instance is None else init.__get__(instance, owner)


def _compile_init(cls: type) -> Callable[..., None]:
    declared: tuple[Field, ...] = cls.__record_fields__  # type: ignore[attr-defined]
    frozen: bool = cls.__record_frozen__  # type: ignore[attr-defined]
    namespace: dict[str, Any] = {"_MISSING": MISSING, "_set": object.__setattr__}
    params = ["self"]
    body = []
    for each in declared:
        name = each.name
        if each.default is not MISSING:
            namespace[f"_default_{name}"] = each.default
        if each.default_factory is not MISSING:
            namespace[f"_factory_{name}"] = each.default_factory
        if each.init:
            if each.default is not MISSING:
                params.append(f"{name}=_default_{name}")
            elif each.default_factory is not MISSING:
                params.append(f"{name}=_MISSING")
            else:
                params.append(name)
            value = f"_factory_{name}() if {name} is _MISSING else {name}" \
                if each.default_factory is not MISSING else name
        elif each.default_factory is not MISSING:
            value = f"_factory_{name}()"
        elif each.default is not MISSING:
            value = f"_default_{name}"
        else:
            continue  # set by __post_init__
        body.append(f"    _set(self, {name!r}, {value})" if frozen else f"    self.{name} = {value}")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    source = f"def __init__({', '.join(params)}):\n" + ("\n".join(body) or "    pass") + "\n"
    exec(source, namespace)  # noqa: S102 - source built above from the class's own field names
    init: Callable[..., None] = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    types = cls.__dict__.get("__annotations__", {})  # as written: the docs show the fields' types
    init.__annotations__ = {each.name: types[each.name] for each in declared if each.init and each.name in types}
    init.__annotations__["return"] = "None"
    type.__setattr__(cls, "__init__", init)
    return init


def _no_key(_: Any) -> tuple[()]:
    return ()


def _repr(self: Any) -> str:
    shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._record_shown)
    return f"{type(self).__qualname__}({shown})"


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is self.__class__:
        return self._record_key(self) == self._record_key(other)
    return NotImplemented


def _hash(self: Any) -> int:
    return hash(self._record_key(self))


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    raise FrozenRecordError(f"cannot assign to field {name!r} of an immutable {type(self).__name__}")


def _frozen_delattr(self: Any, name: str) -> None:
    raise FrozenRecordError(f"cannot delete field {name!r} of an immutable {type(self).__name__}")


def _getstate(self: Any) -> list[Any]:
    return [getattr(self, each.name) for each in self.__record_fields__]


def _setstate(self: Any, state: list[Any]) -> None:
    for each, value in zip(self.__record_fields__, state):
        object.__setattr__(self, each.name, value)


__all__ = ["Field", "FrozenRecordError", "as_dict", "field", "fields", "record", "replace"]
