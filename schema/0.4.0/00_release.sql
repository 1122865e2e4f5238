-- pg_billing 0.4.0: performance (faster recomputation, store and sync). Each file of this folder is
-- one topic's change from 0.3.0; the Makefile assembles them into the upgrade script
-- pg_billing--0.3.0--0.4.0.sql, and a fresh install of 0.4.0 runs 0.2.0's and 0.3.0's files and then
-- these same files, so both end in the same state.
\echo Use "ALTER EXTENSION pg_billing UPDATE TO '0.4.0'" to load this file. \quit
