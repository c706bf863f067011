DROP TABLE sync_job_item_counts;
