//! Rows and their queries. Each file keeps "local" methods (constructors, formatting)
//! and "database" methods (`find_by_uuid`, `list_for_project`, ...) in separate blocks.

mod bulk_delete;
mod cache_item;
pub mod dashboard;
mod event;
mod item_counts;
mod item_data;
mod item_preview;
mod item_selection;
pub mod item_version;
mod job_list;
pub mod kept_stats;
mod large_write;
mod login_failure;
mod pg_write;
mod project;
mod project_block;
mod project_list;
mod role;
mod schedule;
mod site_setting;
mod sqlite_touch;
mod stale;
pub mod stats;
mod sync_job;
mod token;
mod user;
mod user_session;

pub use cache_item::{
    CacheItem, CacheItemSummary, ItemOrder, ItemQuery, NewCacheItem, ScopeTotals,
    UNCHECKED_JSON_BYTES, WrittenItem,
};
pub use event::{Event, NewEvent};
pub use item_counts::{ChangedItem, ItemCounts, RunScope, changed_in_job};
pub use item_data::{ItemData, VersionData};
pub use item_preview::ItemPreview;
pub use item_selection::ItemSelection;
pub use item_version::{ItemVersion, ItemVersionSummary, KEEP_SETTING, WriteOrigin};
pub use job_list::{JobQuery, JobScope};
pub use large_write::STAGED_WRITE_BYTES;
pub use login_failure::LoginFailures;
pub use project::{NewProject, Project, ProjectType, PublicAccess};
pub use project_block::ProjectBlock;
pub use project_list::{ProjectOrder, ProjectQuery, ReadableTotals};
pub use role::{Role, RoleAssignment};
pub use schedule::{ScheduleOverride, ScheduleRun, ScheduleSummary};
pub use site_setting::SiteSetting;
pub use stale::{StaleRule, StaleRules, stale_counts};
pub use sync_job::{JobProgress, JobScopeRequest, JobStatus, Origin, PluginRun, SyncJob};
pub use token::ApiToken;
pub use user::User;
pub use user_session::UserSession;
