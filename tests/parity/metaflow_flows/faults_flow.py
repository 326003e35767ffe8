"""Written with Metaflow's API only: @retry, @catch and current.retry_count."""

from metaflow import FlowSpec, catch, current, retry, step


class MfFaultsFlow(FlowSpec):
    @retry(times=2, minutes_between_retries=0)
    @step
    def start(self):
        if current.retry_count < 1:
            raise RuntimeError("the first attempt fails")
        self.attempts_seen = current.retry_count
        self.next(self.fragile)

    @catch(var="problem", print_exception=False)
    @step
    def fragile(self):
        raise ValueError("always fails")
        self.next(self.end)

    @step
    def end(self):
        self.had_problem = self.problem is not None


if __name__ == "__main__":
    MfFaultsFlow()
