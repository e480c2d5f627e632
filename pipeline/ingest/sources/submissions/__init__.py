"""Unit periodic reports (báo cáo định kỳ): raw/submissions/** → raw.submission_values, raw.submission_tasks,
raw.submissions."""
