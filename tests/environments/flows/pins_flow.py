"""Two steps pin different versions of six; the flow's base pins idna for every step."""

from headwater import FlowSpec, pypi, pypi_base, step


@pypi_base(packages={"idna": "3.7"})
class PinsFlow(FlowSpec):
    @pypi(packages={"six": "1.16.0"})
    @step
    def start(self):
        import sys

        import idna
        import six

        assert six.__version__ == "1.16.0", six.__version__
        assert idna.__version__ == "3.7", idna.__version__
        self.start_prefix = sys.prefix
        print("start sees six", six.__version__)
        self.next(self.middle)

    @pypi(packages={"six": "1.17.0"})
    @step
    def middle(self):
        import sys

        import six

        assert six.__version__ == "1.17.0", six.__version__
        self.middle_prefix = sys.prefix
        print("middle sees six", six.__version__)
        self.next(self.end)

    @step
    def end(self):
        try:
            import six  # noqa: F401
        except ImportError:
            self.end_has_six = False
        else:
            self.end_has_six = True
        print("end sees six:", self.end_has_six)


if __name__ == "__main__":
    PinsFlow()
