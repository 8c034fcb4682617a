"""What `--help` promises about a command's text output."""

from click.testing import CliRunner

from bigan_repr.cli import main


def test_predict_help_says_names_are_escaped_and_json_gives_them_exactly():
    result = CliRunner().invoke(main, ["predict", "--help"])
    text = " ".join(result.output.split())
    assert result.exit_code == 0 and "tab-separated (file, class, probability)" in text
    assert "a name escaped (\\\\, \\n, \\t, \\xNN); --json gives the names exactly" in text
