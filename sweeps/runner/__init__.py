"""Running a sweep: the coordinator, its workers, the reaper and the checks before."""
