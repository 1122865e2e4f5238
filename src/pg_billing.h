/*
 * pg_billing.h: what the module entry point needs from each room.
 */
#ifndef PG_BILLING_H
#define PG_BILLING_H

/* Each room registers its own settings (GUCs) and hooks; called once from _PG_init. */
extern void pgb_http_init(void);
extern void pgb_engines_init(void);
extern void pgb_worker_init(void);

#endif							/* PG_BILLING_H */
