"""The egress proxy: an app's only way out, to the hosts its release declared and an
operator approved (see README, "Egress: declared hosts through an audited proxy")."""
