"""HTML for readers who never see code: notebook exports, ``index.html`` and the deck.

Every page opens without a network: CSS is inline, charts are embedded PNGs, and
the remote scripts that nbconvert's template would load (require.js, MathJax,
Mermaid) are removed, since the reports need none of them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["export_html", "render_index", "write_deck_and_index", "strip_remote_scripts"]

_REMOTE_SCRIPT = re.compile(r"<script\b[^>]*\bsrc=[\"']https?://[^>]*>\s*</script>", re.IGNORECASE)
_MODULE_SCRIPT = re.compile(r"<script\b[^>]*type=[\"']module[\"'][^>]*>.*?</script>", re.IGNORECASE | re.DOTALL)
_REMOTE_LINK = re.compile(r"<link\b[^>]*\bhref=[\"']https?://[^>]*>", re.IGNORECASE)


def strip_remote_scripts(html: str) -> str:
    """Remove scripts and stylesheets loaded from the network.

    Examples
    --------
    >>> strip_remote_scripts('<p>a</p><script src="https://x.org/r.js"></script>')
    '<p>a</p>'
    """
    html = _REMOTE_SCRIPT.sub("", html)
    html = _MODULE_SCRIPT.sub(lambda m: "" if "https://" in m.group(0) else m.group(0), html)
    return _REMOTE_LINK.sub("", html)


def export_html(notebook: str | Path, target: str | Path) -> Path:
    """Export an executed notebook to a self-contained HTML page without code.

    Parameters
    ----------
    notebook : str or Path
        The executed ``.ipynb``.
    target : str or Path
        The ``.html`` file to write.

    Examples
    --------
    >>> export_html("reports/2025Q4/notebooks/02_segments.ipynb", "/tmp/s.html")  # doctest: +SKIP
    PosixPath('/tmp/s.html')
    """
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    exporter.embed_images = True
    body, _ = exporter.from_filename(str(notebook))
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(strip_remote_scripts(body), encoding="utf-8")
    return target


def _template(name: str) -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(
            lambda n: resources.files("icp.report").joinpath("templates", n).read_text(encoding="utf-8")
        ),
        autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template(name)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def render_index(folder: str | Path, manifest: Mapping[str, Any], notebooks: Sequence[Any],
                 skipped: Sequence[tuple[Any, str]]) -> str:
    """The report's ``index.html``: key numbers, a link to every report, results and provenance.

    Examples
    --------
    >>> html = render_index("reports/2025Q4", manifest, specs, [])  # doctest: +SKIP
    """
    folder = Path(folder)
    summary = _read_json(folder / "results" / "leadership_summary.json") or {}
    records = {r["notebook"]: r for r in manifest.get("notebooks", [])}
    reports = [
        {
            "title": spec.title,
            "description": spec.description,
            "href": records.get(spec.name, {}).get("html", f"html/{spec.name}.html"),
            "notebook": records.get(spec.name, {}).get("executed", f"notebooks/{spec.file}"),
            "seconds": records.get(spec.name, {}).get("seconds"),
            "leadership": spec.leadership,
        }
        for spec in notebooks
    ]
    results = sorted(p.name for p in (folder / "results").iterdir() if p.is_file() and not p.name.startswith("."))
    return _template("index.html.j2").render(
        manifest=manifest,
        reports=reports,
        skipped=[{"title": s.title, "reason": r} for s, r in skipped],
        results=results,
        summary=summary,
        has_deck=(folder / "deck.html").exists(),
    )


def write_deck_and_index(folder: str | Path, manifest: Mapping[str, Any], notebooks: Sequence[Any],
                         skipped: Sequence[tuple[Any, str]]) -> None:
    """Write ``deck.html`` (when there is a leadership summary) and ``index.html``.

    Examples
    --------
    >>> write_deck_and_index("reports/.2025Q4.building-1", manifest, specs, [])  # doctest: +SKIP
    """
    from icp.report.deck import write_deck

    folder = Path(folder)
    if (folder / "results" / "leadership_summary.json").exists():
        write_deck(folder / "results", folder / "deck.html", manifest=manifest)
    (folder / "index.html").write_text(render_index(folder, manifest, notebooks, skipped), encoding="utf-8")
