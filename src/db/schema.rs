//! Diesel table definitions, written by hand to match `migrations/` on both backends.
//!
//! `project_key` and `parent_key` are generated columns (`COALESCE(fk, 0)`): they are
//! declared so upserts can name them as conflict targets, and never written.

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlUuid;

    users (id) {
        id -> BigInt,
        uuid -> SqlUuid,
        username -> Text,
        password_hash -> Text,
        is_superuser -> Bool,
        is_active -> Bool,
        date_joined -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlUuid;

    projects (id) {
        id -> BigInt,
        uuid -> SqlUuid,
        title -> Text,
        project_type -> Text,
        parent_id -> Nullable<BigInt>,
        description -> Text,
        public_access -> Nullable<Text>,
        archive -> Bool,
        full_title -> Text,
        date_created -> Timestamp,
        parent_key -> BigInt,
        title_fold -> Nullable<Text>,
        title_sort -> Text,
        last_sync_job -> Nullable<BigInt>,
        last_sync_finished -> Nullable<Timestamp>,
        last_sync_status -> Nullable<Text>,
    }
}

diesel::table! {
    project_ancestors (project_id, ancestor_id) {
        project_id -> BigInt,
        ancestor_id -> BigInt,
        depth -> Integer,
    }
}

diesel::table! {
    role_assignments (id) {
        id -> BigInt,
        project_id -> BigInt,
        user_id -> BigInt,
        role -> Text,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        prefix -> Text,
        digest -> Text,
        created -> Timestamp,
        expiry -> Nullable<Timestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlUuid;

    cache_items (id) {
        id -> BigInt,
        uuid -> SqlUuid,
        project_id -> Nullable<BigInt>,
        app_name -> Text,
        name -> Text,
        data_id -> BigInt,
        size_bytes -> BigInt,
        date_modified -> Timestamp,
        user_id -> Nullable<BigInt>,
        project_key -> BigInt,
        name_fold -> Nullable<Text>,
        app_fold -> Nullable<Text>,
        data_sha256 -> Nullable<Text>,
        version -> BigInt,
        origin -> Nullable<Text>,
        job_id -> Nullable<BigInt>,
        key_override -> Nullable<BigInt>,
    }
}

diesel::table! {
    cache_item_previews (item_id) {
        item_id -> BigInt,
        data_sha256 -> Text,
        preview -> Text,
    }
}

diesel::table! {
    project_access_blocks (project_id) {
        project_id -> BigInt,
        blocked_at -> Timestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlJson;

    /// Item data apart from the item row: each row is one item's current data or one
    /// kept version's (`cache_items.data_id`, `cache_item_versions.data_id`).
    cache_item_data (id) {
        id -> BigInt,
        data -> SqlJson,
    }
}

diesel::table! {
    cache_item_versions (id) {
        id -> BigInt,
        item_id -> BigInt,
        version -> BigInt,
        data_id -> BigInt,
        size_bytes -> BigInt,
        date_modified -> Timestamp,
        user_id -> Nullable<BigInt>,
        origin -> Nullable<Text>,
        job_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlUuid;

    sync_jobs (id) {
        id -> BigInt,
        uuid -> SqlUuid,
        project_id -> Nullable<BigInt>,
        item_name -> Nullable<Text>,
        origin -> Text,
        user_id -> Nullable<BigInt>,
        status -> Text,
        created -> Timestamp,
        started -> Nullable<Timestamp>,
        finished -> Nullable<Timestamp>,
        heartbeat -> Nullable<Timestamp>,
        worker -> Nullable<Text>,
        error -> Nullable<Text>,
        app_name -> Nullable<Text>,
        cancel_requested -> Nullable<Timestamp>,
        cancelled_by -> Nullable<BigInt>,
    }
}

diesel::table! {
    sync_schedules (plugin) {
        plugin -> Text,
        interval_seconds -> Nullable<BigInt>,
        updated -> Timestamp,
        user_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    sync_schedule_runs (id) {
        id -> BigInt,
        plugin -> Text,
        project_id -> BigInt,
        next_run_at -> Timestamp,
        runs -> BigInt,
        last_job_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    sync_job_progress (job_id) {
        job_id -> BigInt,
        plugin -> Text,
        done -> BigInt,
        total -> BigInt,
        message -> Text,
        updated -> Timestamp,
    }
}

diesel::table! {
    sync_job_plugins (id) {
        id -> BigInt,
        job_id -> BigInt,
        plugin -> Text,
        ok -> Bool,
        error -> Nullable<Text>,
        items_written -> BigInt,
        started -> Timestamp,
        finished -> Timestamp,
    }
}

diesel::table! {
    sync_job_item_counts (job_id, plugin) {
        job_id -> BigInt,
        plugin -> Text,
        created -> BigInt,
        changed -> BigInt,
        unchanged -> BigInt,
        untouched -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlUuid;

    events (id) {
        id -> BigInt,
        uuid -> SqlUuid,
        project_id -> Nullable<BigInt>,
        user_id -> Nullable<BigInt>,
        event_name -> Text,
        origin -> Text,
        description -> Text,
        ok -> Bool,
        created -> Timestamp,
    }
}

diesel::table! {
    site_settings (name) {
        name -> Text,
        value -> Text,
    }
}

diesel::joinable!(cache_items -> projects (project_id));
diesel::joinable!(cache_items -> users (user_id));
diesel::joinable!(cache_item_versions -> cache_items (item_id));
diesel::joinable!(role_assignments -> projects (project_id));
diesel::joinable!(role_assignments -> users (user_id));
diesel::joinable!(api_tokens -> users (user_id));
diesel::joinable!(sync_jobs -> projects (project_id));
diesel::joinable!(sync_job_plugins -> sync_jobs (job_id));
diesel::joinable!(sync_job_item_counts -> sync_jobs (job_id));
diesel::joinable!(sync_schedule_runs -> projects (project_id));
diesel::joinable!(sync_schedule_runs -> sync_jobs (last_job_id));
diesel::joinable!(sync_job_progress -> sync_jobs (job_id));
diesel::joinable!(events -> projects (project_id));
diesel::joinable!(project_access_blocks -> projects (project_id));

diesel::table! {
    login_failures (address, username) {
        address -> Text,
        username -> Text,
        failures -> Integer,
        last_at -> Timestamp,
    }
}

diesel::table! {
    user_sessions (id) {
        id -> BigInt,
        key_digest -> Text,
        user_id -> BigInt,
        created -> Timestamp,
        last_seen -> Timestamp,
        expires -> Timestamp,
    }
}

diesel::joinable!(user_sessions -> users (user_id));

// PostgreSQL only (migration 2026-12-03-100001; see `auth::token_grants`): the counter
// every committed change to what a token's gate reads moves. Never queried on SQLite.
diesel::table! {
    auth_epoch (id) {
        id -> SmallInt,
        n -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    auth_epoch,
    users,
    projects,
    project_ancestors,
    project_access_blocks,
    role_assignments,
    api_tokens,
    cache_items,
    cache_item_data,
    cache_item_versions,
    sync_jobs,
    sync_job_plugins,
    sync_job_item_counts,
    sync_schedules,
    sync_schedule_runs,
    sync_job_progress,
    events,
    site_settings,
    login_failures,
    user_sessions,
    cache_app_stats,
    cache_app_totals,
    cache_scope_stats,
    cache_totals,
);

// Kept aggregates of the items (migration 950001; see `models::kept_stats`).
diesel::table! {
    cache_app_stats (project_key, app_name) {
        project_key -> BigInt,
        app_name -> Text,
        items -> BigInt,
        bytes -> BigInt,
    }
}

diesel::table! {
    cache_scope_stats (project_key) {
        project_key -> BigInt,
        items -> BigInt,
        bytes -> BigInt,
        newest -> Nullable<Timestamp>,
        oldest -> Nullable<Timestamp>,
        title_sort -> Nullable<Text>,
    }
}

// Items and bytes per app over every project (migration 992001).
diesel::table! {
    cache_app_totals (app_name) {
        app_name -> Text,
        items -> BigInt,
        bytes -> BigInt,
    }
}

diesel::table! {
    cache_totals (id) {
        id -> Integer,
        projects -> BigInt,
        items -> BigInt,
        bytes -> BigInt,
    }
}
