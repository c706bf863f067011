DROP TABLE project_access_blocks;
