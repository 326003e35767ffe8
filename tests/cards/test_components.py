"""Components, values, the page template and ``current.card`` without running a flow.

Proves: user text is escaped everywhere (Markdown, tables, names), components reject bad
input with a one-line message, values are bounded (long strings, big containers, arrays,
DataFrames), the page inlines the Vega libraries only when a chart is on it, the DAG
highlights the step, and ``current.card`` routes appends to the right card and coalesces
refreshes. What the page looks like in a browser is ``test_browser.py``'s job.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from headwater.cards import (Artifact, CardError, Error, Image, Markdown, ProgressBar,
                             Section, Table, VegaChart)
from headwater.cards.collector import CardCollector, CardSlot
from headwater.cards.dag import FlowDag
from headwater.cards.blank_card import BlankCard
from headwater.cards.template import page_assets, render_page
from headwater.cards.values import render_value

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00"
       b"\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x9a"
       b"\xa0\xa0\x00\x00\x00\x00IEND\xaeB`\x82")


def test_markdown_renders_and_escapes():
    out = Markdown("# Title\n\nSome **bold** and *it* `x<y`\n\n- one\n- two\n\n"
                   "<script>alert(1)</script> [ok](https://example.com) "
                   "[bad](javascript:alert(1))").render()
    assert "<h1>Title</h1>" in out and "<strong>bold</strong>" in out and "<em>it</em>" in out
    assert "<code>x&lt;y</code>" in out and "<ul><li>one</li><li>two</li></ul>" in out
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert 'href="https://example.com"' in out and "javascript:" not in out
    with pytest.raises(CardError, match="takes a string"):
        Markdown(3)


def test_table_cells_values_and_components():
    out = Table([[1, "<b>"], [Markdown("**x**"), None]], headers=["n", "<h>"]).render()
    assert "<th>&lt;h&gt;</th>" in out and "<td>&lt;b&gt;</td>" in out
    assert "<strong>x</strong>" in out and "<td>None</td>" in out
    with pytest.raises(CardError, match="list of rows"):
        Table(5)


def test_table_from_dataframe_truncates_with_note():
    df = pd.DataFrame(np.zeros((500, 50)), columns=[f"c{i}" for i in range(50)])
    table = Table.from_dataframe(df, max_rows=10, max_columns=5)
    assert len(table.rows) == 10 and len(table.headers) == 6
    assert table.note == ("DataFrame: 500 rows × 50 columns; showing the first 10 rows and 5 "
                          "columns (truncated)")
    whole = Table.from_dataframe(df.iloc[:3, :2])
    assert whole.note == "DataFrame: 3 rows × 2 columns"
    assert len(Table.from_dataframe(df, truncate=False).rows) == 500
    with pytest.raises(CardError, match="takes a pandas DataFrame"):
        Table.from_dataframe([[1]])


@pytest.mark.slow
def test_image_sources():
    assert 'src="data:image/png;base64,' in Image(PNG, label="px").render()
    with pytest.raises(CardError, match="not a PNG, JPEG"):
        Image(b"not an image")
    with pytest.raises(CardError, match="takes image bytes"):
        Image("file.png")
    from PIL import Image as PILImage

    assert Image.from_pil_image(PILImage.new("RGB", (4, 4))).mime == "image/png"
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([1, 2])
    assert Image.from_matplotlib(fig).data.startswith(b"\x89PNG")
    with pytest.raises(CardError, match="use Image.from_matplotlib"):
        Image(fig)


def test_values_are_bounded():
    long = render_value("x" * 10_000)
    assert "showing 2,000 of 10,000 characters" in long and len(long) < 3000
    big_list = render_value(list(range(100_000)))
    assert "… 99,970 more" in big_list and len(big_list) < 2000
    nested = render_value({"a": {"b": {"c": {"d": 1}}}})
    assert "1 items" in nested  # below the depth cap only a count
    array = render_value(np.arange(10_000).reshape(100, 100))
    assert "ndarray shape (100, 100), dtype int64" in array and len(array) < 3000
    frame = render_value(pd.DataFrame({"a": range(1000)}))
    assert "1,000 rows × 1 columns" in frame
    assert "&lt;" in render_value("<tag>")

    class Broken:
        def __repr__(self):
            raise RuntimeError("no repr")

    assert "unprintable Broken" in render_value(Broken())


def test_error_section_progress_artifact():
    try:
        raise ValueError("bad <value>")
    except ValueError as exc:
        out = Error(exc).render()
    assert "ValueError" in out and "bad &lt;value&gt;" in out and "Traceback" in out
    section = Section("Results", [Markdown("a"), 5], columns=2)
    assert "repeat(2" in section.render() and "<h2>Results</h2>" in section.render()
    bar = ProgressBar(max=10, label="rows")
    bar.update(4)
    assert 'value="4"' in bar.render() and "(40%)" in bar.render()
    with pytest.raises(CardError):
        ProgressBar(max=0)
    assert "my_name" in Artifact([1], name="my_name").render()


def test_vega_chart_inline_data_only_and_assets():
    chart = VegaChart.line([{"x": 1, "y": float("nan")}, {"x": 2, "y": np.float64(3)}], "x", "y")
    out = chart.render()
    assert '"y": null' in out and '"y": 3.0' in out
    with pytest.raises(CardError, match="data inline"):
        VegaChart({"data": {"url": "https://example.com/data.csv"}, "mark": "bar"})
    assert page_assets([Markdown("a")]) == set()
    assert page_assets([Section("s", [chart])]) == {"vega"}
    plain = render_page("t", Markdown("a").render(), set())
    with_chart = render_page("t", chart.render(), {"vega"})
    assert "vegaLite" not in plain and len(plain) < 20_000
    assert "vegaLite" in with_chart and "sourceMappingURL" not in with_chart
    assert "connect-src 'none'" in with_chart


def test_dag_highlights_the_step():
    graph = [{"name": "start", "type": "split", "next": ["a", "b"]},
             {"name": "a", "type": "linear", "next": ["join"]},
             {"name": "b", "type": "linear", "next": ["join"]},
             {"name": "join", "type": "join", "next": ["end"]},
             {"name": "end", "type": "end", "next": []}]
    out = FlowDag(graph, "b").render()
    assert out.count("<rect") == 5 and out.count("marker-end=") == 5
    assert '<g class="current" data-step="b">' in out


def test_current_card_routing_and_refresh():
    stored: list[list[str]] = []
    collector = CardCollector(lambda slots: stored.append([s.slot for s in slots]))
    collector.append(Markdown("ignored"))  # no card yet: warns, no error
    main = CardSlot("0", BlankCard(), None)
    other = CardSlot("1", BlankCard(), "other")
    collector._add(main)
    collector._add(other)
    collector.append(Markdown("to main"))
    collector["other"].extend([Markdown("x"), "plain value"])
    collector["missing"].append(Markdown("dropped"))
    assert len(main.components) == 1 and len(other.components) == 2
    assert isinstance(other.components[1], Artifact)
    collector.refresh()
    collector.refresh()  # within the interval: coalesced into one later store
    assert stored == [["0"]]
    time.sleep(1.3)
    assert stored == [["0"], ["0"]]
    collector["other"].clear()
    assert other.components == []
    collector._close()
    collector.refresh()
    time.sleep(0.05)
    assert stored == [["0"], ["0"]]


def test_several_editable_cards_need_an_id(capsys):
    collector = CardCollector(lambda slots: None)
    collector._add(CardSlot("0", BlankCard(), "a"))
    collector._add(CardSlot("1", BlankCard(), "b"))
    collector.append(Markdown("where?"))
    assert "use current.card[id]" in capsys.readouterr().err


def test_chart_data_cannot_end_its_script_element():
    import json
    import re

    chart = VegaChart.line([{"x": 1, "label": "</script><script>alert(1)</script><!--"}],
                           "x", "x")
    out = chart.render()
    inner = re.search(r'<script type="application/json">(.*?)</script>', out, re.S).group(1)
    assert "<" not in inner
    assert json.loads(inner)["data"]["values"][0]["label"].startswith("</script>")
