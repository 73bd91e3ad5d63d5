"""The site's Content-Security-Policy (app.py) allows styles and scripts from its own files only: a style
attribute or an inline <style>/<script> in a template is blocked by the browser, silently for the person and as a
console error for the browser tests. The regulator's page of a base application had four such attributes, so
the applicant's multi-line answers ran together (found by tests/test_browser_organisations.py)."""

import re
from pathlib import Path

from app import CONTENT_SECURITY_POLICY

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
INLINE = re.compile(r"""\sstyle\s*=\s*["']|<style[\s>]|<script(?![^>]*\ssrc=)[^>]*>""", re.IGNORECASE)


def test_the_policy_still_refuses_inline_styles_and_scripts():
    assert "style-src 'self';" in CONTENT_SECURITY_POLICY and "script-src 'self';" in CONTENT_SECURITY_POLICY


def test_no_template_has_an_inline_style_or_script():
    found = [f"{path.relative_to(TEMPLATES)}:{number}: {line.strip()[:120]}"
             for path in sorted(TEMPLATES.rglob("*.html"))
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if INLINE.search(line)]
    assert found == []
