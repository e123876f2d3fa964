import pytest

from trimtab.errors import TrimtabError
from trimtab.runtime.templates import TemplateError, prompt_messages, render, variables


def test_render_fills_placeholders_with_or_without_spaces():
    assert render("Hi {{name}}, re {{ topic }}.", {"name": "Ann", "topic": 42}) == "Hi Ann, re 42."


def test_missing_variable_names_it_and_the_prompt():
    with pytest.raises(TemplateError) as info:
        render("{{customer}} about {{product}}: {{text}}", {"text": "leaks"},
               name="'user' (prompts/u.md)")
    message = str(info.value)
    assert "'customer', 'product'" in message and "prompts/u.md" in message
    assert "customer=..." in message and "Passed: text" in message
    assert info.value.missing == ["customer", "product"]
    assert isinstance(info.value, TrimtabError)  # the CLI prints it without a traceback


def test_other_braces_are_left_alone_and_variables_listed_once():
    template = 'JSON like {"a": 1} and {{x}} then {{x}} and {single}'
    assert variables(template) == ["x"]
    assert render(template, {"x": "y"}) == 'JSON like {"a": 1} and y then y and {single}'


def test_prompt_messages_from_a_release_spec():
    prompts = {"system": {"path": "s.md", "content": "Route for {{team}}."},
               "user": {"path": "u.md", "content": "{{text}}"},
               "notes": {"path": "n.md", "content": "ignored {{nothing}}"}}
    assert prompt_messages(prompts, {"team": "QA", "text": "It leaks"}) == [
        {"role": "system", "content": "Route for QA."},
        {"role": "user", "content": "It leaks"},
    ]
    with pytest.raises(TemplateError, match=r"prompt 'user' \(u.md\): missing variable 'text'"):
        prompt_messages(prompts, {"team": "QA"})
