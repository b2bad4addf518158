/*
 * policy.h - the conflict policies: which row wins when both sides changed
 * it.  One enum and one name table for the configuration
 * ([sync] conflict_resolution), every -p option and the beacon's META;
 * they are defined in diff.c, which applies them.
 */
#ifndef SMG_POLICY_H
#define SMG_POLICY_H

enum smg_policy { SMG_LOCAL_WINS, SMG_REMOTE_WINS, SMG_NEWER_WINS, SMG_UUID_V7_WINS };
#define SMG_NPOLICIES 4

/* Indexed by enum smg_policy; NULL-terminated (a config choice table). */
extern const char *const smg_policy_names[SMG_NPOLICIES + 1];
/* -1 when the name is unknown. */
int smg_policy_parse(const char *s);

#endif
