"""Prepared queries: the hottest lookups' SQL built once per kind of database, then run with new
parameters.

peewee builds a query's SQL text anew on every execution, walking its whole expression tree: for
the five-table join a waiting guest's poll makes, that walk costs several times more than SQLite
takes to answer (788 → 59 µs measured). So each such query is built once, with named
placeholders, and peewee still turns the rows into what the query itself would return (models
with their joined relations, dicts or tuples).

This leans on peewee internals (`_get_cursor_wrapper`, the cursor wrapper's `initialize` and
`process_row`, `returning_clause`, `Insert.SIMPLE`), which is why pyproject.toml pins peewee's
minor version. tests/test_prepared.py runs every prepared query of the app against the plain
peewee query it replaces: run it before raising that pin."""

import importlib
import inspect
import pkgutil

from peewee import Insert, Model, Value

from .db import database


class Placeholder:
    """Where a prepared query's parameter goes."""
    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"Placeholder({self.name!r})"


class Prepared:
    """A query whose SQL text is built once per database class and reused: `first` and `all`
    for a select, `execute` for an update or delete, `insert` for an insert of one row.

    `build` takes the parameters as keyword arguments and returns the peewee query; it is called
    once with placeholders, so it must use them only as values (never in Python logic). Values
    are passed to the database as given, unconverted: ints, strs, datetimes and None."""

    # What a peewee cursor wrapper learns from the first row of a result (columns, converters,
    # how joined rows nest): the same for every run of the same SQL, so it is learnt once and
    # then only read (each run gets a wrapper of its own; these are its per-result parts).
    _PER_CURSOR = frozenset({"cursor", "count", "index", "initialized", "populated", "row_cache"})

    def __init__(self, build, name: str):
        self._build = build
        self.name = name
        self._names = tuple(inspect.signature(build).parameters)
        # per database class: [query, sql, parameter template, what the wrapper learnt]
        self._compiled: dict[type, list] = {}

    def query(self, **values):
        """The plain peewee query this stands for, with these values (what it must agree with)."""
        self._check(values)
        return self._build(**values)

    def _check(self, values: dict) -> None:
        if values.keys() != set(self._names):  # a value passed but never used is a bug
            raise TypeError(f"{self.name} takes {self._names}, got {tuple(values)}")

    def _compile(self):
        kind = type(database.obj)
        compiled = self._compiled.get(kind)
        if compiled is None:
            query = self._build(**{name: Value(Placeholder(name), converter=False)
                                   for name in self._names})
            sql, params = query.sql()
            compiled = self._compiled[kind] = [query, sql, tuple(params), None]
        return compiled

    def _run(self, values: dict):
        self._check(values)
        compiled = self._compile()
        params = [values[p.name] if isinstance(p, Placeholder) else p for p in compiled[2]]
        return compiled, database.execute_sql(compiled[1], params)

    def _wrapper(self, compiled, cursor):
        """The query's own cursor wrapper, which turns rows into models (or dicts, tuples),
        taught once what it learns from a result's columns."""
        wrapper = compiled[0]._get_cursor_wrapper(cursor)
        learnt = compiled[3]
        if learnt is None:
            wrapper.initialize()
            compiled[3] = {k: v for k, v in vars(wrapper).items() if k not in self._PER_CURSOR}
        else:
            vars(wrapper).update(learnt)
        return wrapper

    def first(self, **values):
        """The first row as the query itself would return it, or None."""
        compiled, cursor = self._run(values)
        try:
            row = cursor.fetchone()
            return None if row is None else self._wrapper(compiled, cursor).process_row(row)
        finally:
            cursor.close()

    def all(self, **values) -> list:
        compiled, cursor = self._run(values)
        try:
            rows = cursor.fetchall()
            if not rows:
                return []
            wrapper = self._wrapper(compiled, cursor)
            return [wrapper.process_row(row) for row in rows]
        finally:
            cursor.close()

    def execute(self, **values) -> int:
        """For an update or delete: how many rows it changed."""
        _compiled, cursor = self._run(values)
        return database.rows_affected(cursor)

    def insert(self, **values) -> int:
        """For an insert of one row: the new row's id. Pass every column the insert names:
        defaults were fixed when it was built, so a callable default (a time) must be a
        parameter."""
        _compiled, cursor = self._run(values)
        if database.returning_clause:  # PostgreSQL: peewee's insert ends RETURNING its id
            return cursor.fetchone()[0]
        return database.last_insert_id(cursor, Insert.SIMPLE)


def prepared(build=None, *, name: str | None = None):
    """Decorator: `build` (a function of the parameters returning the peewee query) becomes a
    `Prepared`, named `<module>.<function name>` unless `name` is given."""
    def make(build):
        return Prepared(build, name or f"{build.__module__}.{build.__name__}")
    return make if build is None else make(build)


def every_query(package: str = "portal") -> dict[str, Prepared]:
    """Every prepared query the package's modules hold, by name (the tests hold each against
    plain peewee): found by importing each module, not by remembering what was decorated."""
    found = {}
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, f"{package}."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, Prepared) and value.name.startswith(f"{info.name}."):
                found[value.name] = value
    return found


def loaded(model: type[Model], **columns) -> Model:
    """A row made in Python as if it had been read from the database (what a prepared insert
    stands for): nothing marked changed, so a later save() writes only what is set after."""
    row = model(**columns)
    row._dirty.clear()
    return row


def model_key(row: Model) -> tuple:
    """A row as a hashable key of all its columns (a cache key: pagecache)."""
    return type(row).__name__, tuple(sorted(row.__data__.items()))
