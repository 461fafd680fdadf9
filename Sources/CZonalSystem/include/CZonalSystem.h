#ifndef CZONAL_SYSTEM_H
#define CZONAL_SYSTEM_H

/// Asks the kernel to send `signal` to this process when its parent dies (Linux prctl
/// PR_SET_PDEATHSIG, which Swift cannot call directly because prctl is variadic).
/// Returns 0 on success, -1 with errno set otherwise; on other systems it does nothing.
int czonal_set_parent_death_signal(int signal);

#endif
