"""One run and a sweep of them: the plan and scenario transaction, the runner, what a check may read
(context), the typed results, K concurrent workers, the per-call resources, the sweep."""
