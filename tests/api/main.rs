//! HTTP tests: each spawns the application on a random port over a fresh database
//! cloned from a migrated template, in one throwaway PostgreSQL cluster per run.

mod helpers;

mod accounts;
mod auth;
mod batch;
mod embedded;
mod entries;
mod events;
mod idempotency;
mod ledgers;
mod operations;
mod overdraft;
mod processes;
mod tamper;
