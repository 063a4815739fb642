"""Plain-text tables, as the formal runner and the benches print them."""

from collections.abc import Iterable, Sequence

__all__ = ["text_table"]


def text_table(header: Sequence[str], rows: Iterable[Sequence[str]], *,
               right: Iterable[int] = ()) -> str:
    """``header`` and ``rows`` (strings) in columns two spaces apart, a rule of dashes under
    the header.

    Parameters
    ----------
    header : sequence of str
        The column titles; every row has as many cells.
    rows : iterable of sequence of str
        The table's rows.
    right : iterable of int
        Indices of the columns aligned right; the others are aligned left.
    """
    rows = [tuple(row) for row in rows]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    right = set(right)

    def line(row):
        cells = [cell.rjust(width) if i in right else cell.ljust(width)
                 for i, (cell, width) in enumerate(zip(row, widths, strict=True))]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *(line(row) for row in rows)])
