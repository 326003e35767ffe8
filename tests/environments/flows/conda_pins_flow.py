"""Two steps pin different versions of tinyver from a local conda channel (named by
HEADWATER_CONDA_CHANNELS); middle also takes tinydep, which needs tinyver >=2 and python;
the flow's base gives every step tinyextra."""

from headwater import FlowSpec, conda, conda_base, step


@conda_base(libraries={"tinyextra": "0.3"})
class CondaPinsFlow(FlowSpec):
    @conda(libraries={"tinyver": "1.0.0"})
    @step
    def start(self):
        import sys

        import tinyextra
        import tinyver

        assert tinyver.__version__ == "1.0.0", tinyver.__version__
        assert tinyextra.__version__ == "0.3", tinyextra.__version__
        self.start_prefix = sys.prefix
        print("start sees tinyver", tinyver.__version__)
        self.next(self.middle)

    @conda(libraries={"tinyver": "2.0.0", "tinydep": "0.1"})
    @step
    def middle(self):
        import sys

        import tinydep
        import tinyver

        assert tinyver.__version__ == "2.0.0", tinyver.__version__
        self.middle_prefix = sys.prefix
        print("middle sees tinyver", tinyver.__version__, "and tinydep", tinydep.__version__)
        self.next(self.end)

    @step
    def end(self):
        try:
            import tinyver  # noqa: F401
        except ImportError:
            self.end_has_tinyver = False
        else:
            self.end_has_tinyver = True
        print("end sees tinyver:", self.end_has_tinyver)


if __name__ == "__main__":
    CondaPinsFlow()
