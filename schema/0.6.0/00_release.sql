-- pg_billing 0.6.0: a full revenue recomputation reads every customer's documents directly instead
-- of queueing every customer first. Each file of this folder is one topic's change from 0.5.0; the
-- Makefile assembles them into the upgrade script pg_billing--0.5.0--0.6.0.sql, and a fresh install
-- of 0.6.0 runs the files of every earlier release and then these same files, so both end in the
-- same state.
\echo Use "ALTER EXTENSION pg_billing UPDATE TO '0.6.0'" to load this file. \quit
