"""Puts one benchmark's section into docs/benchmarks.md, between its markers
`<!-- NAME:begin -->` and `<!-- NAME:end -->`, replacing what a previous run wrote there."""
import pathlib


def replace_section(name, section):
    doc = pathlib.Path("docs/benchmarks.md")
    text = doc.read_text()
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    if begin in text:
        text = text[: text.index(begin)] + section + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    doc.write_text(text)
