"""Named registries of tasks, models and curricula: the one list of names the configuration accepts.

Each concept keeps one :class:`Registry` (``rnn_timescales.tasks.TASKS``,
``rnn_timescales.models.MODELS``, ``rnn_timescales.curricula.CURRICULA``). A class registers under
its ``name`` (tasks, models) or ``kind`` (curricula) attribute and declares its own settings as a
pydantic model ``Params``, which the run configuration validates.
"""

from __future__ import annotations

from typing import Generic, Iterator, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T", bound=type)


class NoParams(BaseModel):
    """The settings of a class that has none of its own."""

    model_config = ConfigDict(extra="forbid")


class Registry(Generic[T]):
    """Classes of one concept (``concept``, e.g. "task"), all subclasses of ``base``, by name.

    ``key`` is the class attribute holding the name.
    """

    def __init__(self, concept: str, base: type, key: str = "name") -> None:
        self.concept = concept
        self.base = base
        self.key = key
        self._classes: dict[str, T] = {}

    def register(self, cls: T) -> T:
        """Make ``cls`` available under its name (usable as a class decorator)."""
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise TypeError(f"a {self.concept} must subclass {self.base.__module__}.{self.base.__name__}, got {cls!r}")
        name = getattr(cls, self.key, None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"{cls.__name__} needs a string class attribute {self.key!r} to be registered")
        existing = self._classes.get(name)
        if existing is not None and existing is not cls:
            raise ValueError(f"a different {self.concept} is already registered as {name!r}")
        self._classes[name] = cls
        return cls

    def unregister(self, name: str) -> None:
        """Remove a registration (e.g. one a test made)."""
        self._classes.pop(name, None)

    def get(self, name: str) -> T:
        """The class registered as ``name``; ValueError listing the choices otherwise."""
        try:
            return self._classes[name]
        except KeyError:
            raise ValueError(f"unknown {self.concept} {name!r}; choose one of {', '.join(self._classes)}") from None

    def names(self) -> list[str]:
        return list(self._classes)

    def __contains__(self, name: object) -> bool:
        return name in self._classes

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._classes))

    def __len__(self) -> int:
        return len(self._classes)
