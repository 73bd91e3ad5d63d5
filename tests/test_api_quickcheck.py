"""The quick check of request bodies (blueprints.api.quickcheck) says yes only to what jsonschema accepts, and
says it to the usual completion batch, so that the batch skips jsonschema."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blueprints.api.quickcheck import Unsupported, compile_schema, plainly_fits, quick_check
from blueprints.api.schemas import COMPONENTS, MAX_BATCH
from blueprints.api.spec import check, validator_for

GOOD = {"external_id": "hr-2026.001", "course_id": 12, "name": "张三", "phone": "13800000000",
        "id_number": "11010519491231002X", "hours": 8, "completed_on": "2026-12-07"}


def fits_by_jsonschema(name: str, instance) -> bool:
    return check(validator_for(name), instance, limit=1) == []


def test_the_usual_batch_plainly_fits():
    batch = {"completions": [GOOD, {**GOOD, "external_id": "b", "phone": "13900000000"},
                             {k: v for k, v in GOOD.items() if k not in ("phone", "hours", "completed_on")}]}

    assert quick_check("CompletionBatch") is not None
    assert plainly_fits("CompletionBatch", batch) and fits_by_jsonschema("CompletionBatch", batch)


@pytest.mark.parametrize("change", [
    {"phone": "13800000000\n"},  # $ is the end of the string, as in ECMA-262
    {"phone": "1380000000"}, {"phone": 13800000000}, {"id_number": "11010519491231002"},
    {"course_id": True}, {"course_id": 0}, {"course_id": "12"}, {"hours": 501}, {"hours": 0},
    {"completed_on": "2026-02-30"}, {"completed_on": "２０２６-12-07"}, {"completed_on": "2026-12-7"},
    {"name": "   "}, {"name": "张\n三"}, {"name": "张" * 65}, {"name": ""}, {"external_id": "-x"},
    {"external_id": "x" * 65}, {"extra": 1}, {"name": None},
])
def test_a_wrong_item_is_not_passed(change):
    batch = {"completions": [{**GOOD, **change}]}

    assert not plainly_fits("CompletionBatch", batch)
    assert not fits_by_jsonschema("CompletionBatch", batch)


@pytest.mark.parametrize("batch", [
    {"completions": []}, {"completions": [GOOD] * (MAX_BATCH + 1)}, {"completions": GOOD}, [GOOD],
    {"completions": [{k: v for k, v in GOOD.items() if k not in ("phone", "id_number")}]},
    {"completions": [{k: v for k, v in GOOD.items() if k != "name"}]}, {"completions": [GOOD], "more": []},
])
def test_a_wrong_batch_is_not_passed(batch):
    assert not plainly_fits("CompletionBatch", batch) and not fits_by_jsonschema("CompletionBatch", batch)


def test_what_it_does_not_judge_makes_it_say_nothing():
    with pytest.raises(Unsupported):
        compile_schema({"type": "string", "enum": ["a"]})
    with pytest.raises(Unsupported):
        compile_schema({"type": ["integer", "null"]})
    assert not plainly_fits("CourseInput", {"title": "x"})  # uses enum: always left to jsonschema


# Values of every JSON kind, the edges of the item's rules among them.
_text = st.one_of(st.text(max_size=70), st.sampled_from([
    "13800000000", "13800000000\n", "1380000000０", "11010519491231002X", "11010519491231002x", "2026-12-07",
    "2026-02-29", "2024-02-29", "2026-13-01", " ", "\u3000", "\u0085", "\u2028", "张三", "a" * 64, "a" * 65]))
_json = st.recursive(st.none() | st.booleans() | st.integers(-2, 10**12) | st.floats(allow_nan=False) | _text,
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
                     max_leaves=6)
_item = st.dictionaries(st.sampled_from([*GOOD, "other"]), _json | st.sampled_from(list(GOOD.values())))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(st.one_of(_item, st.builds(lambda change: {**GOOD, **change}, _item)), max_size=4))
def test_it_never_passes_what_jsonschema_refuses(items):
    batch = {"completions": items}

    assert not plainly_fits("CompletionBatch", batch) or fits_by_jsonschema("CompletionBatch", batch)


@pytest.mark.parametrize("name", [name for name in COMPONENTS if quick_check(name) is not None])
@settings(max_examples=100, deadline=None)
@given(instance=_json)
def test_no_schema_it_judges_passes_what_jsonschema_refuses(name, instance):
    assert not plainly_fits(name, instance) or fits_by_jsonschema(name, instance)
