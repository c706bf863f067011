-- Every project and category with each of its ancestors (itself at depth 0, its parent
-- at 1, ...), so "roles along the chain" is one join instead of a walk. Written in the
-- same transaction as the project (Project::create); rows go with the project.
CREATE TABLE project_ancestors (
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    ancestor_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    depth INTEGER NOT NULL CHECK (depth >= 0),
    PRIMARY KEY (project_id, ancestor_id)
);
CREATE INDEX project_ancestors_ancestor ON project_ancestors (ancestor_id, project_id);

INSERT INTO project_ancestors (project_id, ancestor_id, depth)
WITH RECURSIVE chain (project_id, ancestor_id, depth) AS (
    SELECT id, id, 0 FROM projects
    UNION ALL
    SELECT chain.project_id, projects.parent_id, chain.depth + 1
    FROM chain JOIN projects ON projects.id = chain.ancestor_id
    WHERE projects.parent_id IS NOT NULL AND chain.depth < 64
)
SELECT project_id, ancestor_id, depth FROM chain;
