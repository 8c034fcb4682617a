"""Every relative link and image in README.md and docs/*.md points at a file that exists and, with
a #anchor, at a heading of that file; and the README stays short."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README_MAX_LINES = 300

FENCE = re.compile(r"^(```|~~~)")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
INLINE_CODE = re.compile(r"`[^`]*`")


def prose_lines(text):
    """The lines outside fenced code blocks."""
    fenced = False
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
        elif not fenced:
            yield line


def slug(heading):
    """GitHub's anchor for a heading: lowercase, punctuation dropped except hyphens, spaces to
    hyphens."""
    text = heading.strip().lower().replace("`", "")
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path):
    found, seen = set(), {}
    for line in prose_lines(path.read_text(encoding="utf-8")):
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            base = slug(m.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
    return found


def broken_links(pages):
    """(page, link, why) for every relative link in pages that does not resolve."""
    problems = []
    for page in pages:
        for line in prose_lines(page.read_text(encoding="utf-8")):
            for target in LINK.findall(INLINE_CODE.sub("", line)):
                if re.match(r"^(https?:|mailto:)", target):
                    continue
                file_part, _, anchor = target.partition("#")
                dest = (page.parent / file_part).resolve() if file_part else page
                if not dest.is_file():
                    problems.append((page.name, target, "no such file"))
                elif anchor and anchor not in anchors(dest):
                    problems.append((page.name, target, "no such heading"))
    return problems


def doc_pages():
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_every_relative_link_resolves():
    assert broken_links(doc_pages()) == []


def test_readme_is_short():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES


def test_every_docs_page_is_linked_from_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = {t.partition("#")[0] for t in LINK.findall(readme)}
    pages = {f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md")}
    assert pages - linked == set()


def test_the_checker_catches_a_broken_file_and_a_broken_anchor(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text("# A `code` heading: here\n\n## Second\n")
    (tmp_path / "README.md").write_text(
        "[ok](docs/page.md#a-code-heading-here) [ok](docs/page.md#second) [ok](#top)\n"
        "[no file](docs/missing.md) [no anchor](docs/page.md#third) ![no image](docs/x.png)\n"
        "[web](https://example.org/x#y)\n\n# Top\n\n```\n[in code](nowhere.md)\n```\n"
    )
    problems = broken_links([tmp_path / "README.md"])
    assert problems == [
        ("README.md", "docs/missing.md", "no such file"),
        ("README.md", "docs/page.md#third", "no such heading"),
        ("README.md", "docs/x.png", "no such file"),
    ]
