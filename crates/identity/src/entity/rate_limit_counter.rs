//! The `rate_limit_counters` table: hits of one bucket in one window.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rate_limit_counters")]
pub struct Model {
    /// SHA-256 (hex) of the bucket's name, so addresses are not stored in clear.
    #[sea_orm(primary_key, auto_increment = false)]
    pub bucket: String,
    /// Seconds since the epoch at which the window began.
    #[sea_orm(primary_key, auto_increment = false)]
    pub window_start: i64,
    pub hits: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
