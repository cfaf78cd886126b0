//! HTTP tests: each spawns the application on a random port over a fresh database
//! cloned from a migrated template, in one throwaway PostgreSQL cluster per run.

mod helpers;

mod accounts;
mod audit_checkpoints;
mod auth;
mod batch;
mod commerce;
mod commerce_concurrency;
mod commerce_random;
mod commerce_refusals;
mod commerce_reports;
mod embedded;
mod entries;
mod events;
mod faults;
mod hostile;
mod idempotency;
mod ledgers;
mod operations;
mod overdraft;
mod packaging;
mod processes;
mod proofs;
mod rebuild;
mod reporting;
mod shop;
mod tamper;
