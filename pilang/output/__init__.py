"""How pilang values are shown, one concern a module: `notation` writes any value in pilang's own notation
(`write` round-trips through the reader, `display` is for people); `answers` lays a query result out as
text for terminals and HTML for notebooks; `rich` holds the rich values (HTML snippets, plots) and their
primitives; `readable` says a number or a column name as a person reads it; `tojson` is the `--json`
contract. The values themselves (`Table`, `Result`) live in pilang/table.py and pilang/result.py."""
