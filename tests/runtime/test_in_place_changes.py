"""An inherited artifact that a step changes in place (``self.seen.add(x)``, without
assigning ``self.seen``) is stored again with the change, as Metaflow stores it; one only
read is not stored again."""

from __future__ import annotations

FLOW = """
    from headwater import FlowSpec, current, step

    class InPlaceFlow(FlowSpec):
        @step
        def start(self):
            self.seen = {"start"}
            self.by_task = {}
            self.untouched = [1, 2, 3]
            self.name_only = "fixed"
            self.next(self.a, self.b)

        @step
        def a(self):
            self.seen.add("a")
            self.by_task[current.pathspec] = "a"
            self.next(self.join)

        @step
        def b(self):
            self.total = sum(self.untouched)  # read, not changed
            self.next(self.join)

        @step
        def join(self, inputs):
            self.seen = set().union(*(i.seen for i in inputs))
            self.merged = sorted(inputs.a.by_task.values())
            self.next(self.end)

        @step
        def end(self):
            self.seen.add("end")
            self.untouched.append(4)

    if __name__ == "__main__":
        InPlaceFlow()
"""


def test_changes_in_place_are_stored_and_reads_are_not(flow_runner, flow_class):
    run = flow_runner.run(flow_class(FLOW))
    assert run["a"].task.data.seen == {"start", "a"}
    assert list(run["a"].task.data.by_task.values()) == ["a"]
    assert run["b"].task.data.seen == {"start"}
    assert run["join"].task.data.merged == ["a"]
    assert run["end"].task.data.seen == {"start", "a", "end"}
    assert run["end"].task.data.untouched == [1, 2, 3, 4]
    start, b = run["start"].task, run["b"].task
    # read only: the same stored object as start's
    assert b["untouched"].sha == start["untouched"].sha
    assert run["start"].task.data.untouched == [1, 2, 3]
