"""``IncludeFile``: a parameter whose value is the content of a local file.

    class StatsFlow(FlowSpec):
        movie_data = IncludeFile("movie_data", default="movies.csv", help="the CSV to read")

    python stats_flow.py run --movie-data other.csv

The file is read once, when the run starts, on the machine that starts it. Its content is
the parameter's value: stored with the run's other parameters in the content-addressed
artifact store, so every task of the run (local or remote), a resume of the run and the
Client all see the same bytes, whatever happens to the file afterwards. ``is_text=True``
(the default) decodes the bytes with ``encoding``; ``is_text=False`` keeps them as ``bytes``.
"""

from __future__ import annotations

from typing import Any

from .exceptions import ParameterError
from .parameters import Parameter


class IncludeFile(Parameter):
    """A run parameter given as a path; its value is the file's content."""

    def __init__(self, name: str, default: Any = None, is_text: bool = True,
                 encoding: str = "utf-8", help: str | None = None, required: bool = False,
                 show_default: bool = True):
        super().__init__(name, default=default, type=str, help=help, required=required,
                         show_default=show_default)
        self.is_text = is_text
        self.encoding = encoding

    @property
    def metavar(self) -> str:
        return "PATH"

    def convert(self, value: Any) -> Any:
        """Read the file at ``value`` (a path) and return its content."""
        if isinstance(value, bytes):  # already content (a default given as bytes)
            return value.decode(self.encoding) if self.is_text else value
        path = str(value)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise ParameterError(f"file {path} given for --{self.option_name} does not exist",
                                 f"pass an existing file: --{self.option_name} PATH") from None
        except OSError as exc:
            raise ParameterError(
                f"file {path} given for --{self.option_name} cannot be read: {exc.strerror}",
                "check the path and its permissions") from None
        if not self.is_text:
            return data
        try:
            return data.decode(self.encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParameterError(
                f"file {path} given for --{self.option_name} is not {self.encoding} text "
                f"({exc})", f"pass a {self.encoding} file, or declare IncludeFile("
                f"{self.name!r}, is_text=False) to get bytes") from None

    def __repr__(self) -> str:
        return f"IncludeFile({self.name!r}, default={self.default!r})"
