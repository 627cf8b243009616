"""Property-based tests of YAML reading: any text is data with lines, or a YamlReadError."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from questionnaires.yamlsource import YamlReadError, YamlSource, parse_yaml

# Fragments of YAML syntax, so that random text often parses and reaches every construct.
FRAGMENTS = st.sampled_from([
    "a", "b", ": ", ":", "- ", "-", "\n", "  ", "[", "]", "{", "}", ",", "&x ", "*x", "!!str ",
    "!t ", "<<: ", "? ", "'", '"', "#", "|", ">", "~", "null", "yes", "1.5", "2024-13-45",
    "9" * 20, ".inf", "0x1F", "---\n", "...\n", "%YAML 1.1\n", "\t", "\x00", "\ufeff", "é",
])
yaml_like = st.lists(FRAGMENTS, max_size=40).map("".join)


@settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(yaml_like, st.text(max_size=200)))
def test_any_text_is_data_or_a_yaml_read_error(text: str) -> None:
    try:
        source, duplicates = parse_yaml(text, "q.yaml")
    except YamlReadError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.file == "q.yaml"
            assert "\n" not in str(problem)
        return
    assert isinstance(source, YamlSource)
    for line in source.lines.values():
        assert 1 <= line <= text.count("\n") + 2
    for problem in duplicates:
        assert problem.message.startswith("duplicate key")
