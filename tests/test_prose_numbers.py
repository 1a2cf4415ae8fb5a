"""tools.prose_numbers: a figure typed into the prose is found; one the run prints beside it is not."""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from tools.prose_numbers import unquoted


def notebook(markdown: str, printed: str = "", code: str = "x = 1") -> object:
    cell = new_code_cell(code)
    cell.outputs = [new_output("stream", name="stdout", text=printed)] if printed else []
    return new_notebook(cells=[cell, new_markdown_cell(markdown)])


def found(markdown: str, printed: str = "", code: str = "x = 1") -> list[str]:
    return [written for _, written, _ in unquoted(notebook(markdown, printed, code))]


def test_a_typed_figure_is_found_and_a_printed_one_is_not():
    assert found("The error is about 1e-4 and the accuracy 0.426.") == ["1e-4", "0.426"]
    assert found("The error is about 1.5e-5 and the accuracy 0.426.", printed="err 1.46e-05 acc 0.42631") == []


def test_a_figure_matches_only_to_the_precision_it_is_written_with():
    assert found("accuracy 0.43", printed="0.426") == []
    assert found("accuracy 0.44", printed="0.426") == ["0.44"]
    assert found("12.2% of the error", printed="0.1218") == []
    assert found("about 30 million parameters", printed="30,001,000 parameters") == []
    assert found("about 40 million parameters", printed="30,001,000 parameters") == ["40*million"]


def test_settings_in_code_count_and_what_is_not_a_figure_is_left_alone():
    assert found("batches of 32 for 15 epochs", code="fit(batch_size=32, epochs=15)") == []
    assert found("a layer of 10,000 units", code="ones = torch.ones(10_000)") == []
    text = (
        "### 2.1 Heading\n$$\\sigma = \\sqrt{2/512}$$ from He et al. 2015, §2.2, with `eps=1e-7`; "
        "ResNet-18 on 7 images; rotate by 45°; worth **37 points**."
    )
    assert found(text) == []


def test_a_papers_figures_in_a_sentence_that_cites_it_are_left_to_the_citation():
    cited = "He et al. (2015, Table 2) report 27.94% for the plain 18-layer net. The run gives 31.5% here."
    assert found(cited) == ["31.5%"]
    row = "| plain | 27.94% | 28.54% | (He et al. 2015, Table 2) |"
    assert found(row) == []
