DROP TABLE project_ancestors;
