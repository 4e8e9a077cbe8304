/* policy/level: names of grant levels and actions (shared by the control
 * plane, which stores levels, and the policy engine, which applies them). */
#include "policy/policy.h"

#include <string.h>

static const char *const level_names[] = {"read", "write", "operate", "admin"};

int policy_level_parse(const char *s, enum policy_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum policy_level)i;
			return 0;
		}
	}
	return -1;
}

const char *policy_level_name(enum policy_level l)
{
	return (unsigned)l < 4 ? level_names[l] : "?";
}

const char *policy_action_name(enum policy_action a)
{
	switch (a) {
	case POLICY_ALLOW: return "allow";
	case POLICY_ALERT: return "alert";
	case POLICY_REVIEW: return "review";
	case POLICY_DENY: return "deny";
	case POLICY_KILL: return "kill";
	}
	return "?";
}
