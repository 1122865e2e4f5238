-- pg_billing 0.5.0: a run records how long it spent storing what it received. Each file of this
-- folder is one topic's change from 0.4.0; the Makefile assembles them into the upgrade script
-- pg_billing--0.4.0--0.5.0.sql, and a fresh install of 0.5.0 runs the files of every earlier
-- release and then these same files, so both end in the same state.
\echo Use "ALTER EXTENSION pg_billing UPDATE TO '0.5.0'" to load this file. \quit
