"""Learned model families (``family.ModelFamily``, one module each, by name in ``families``) and
the candidate sources serving asks (``candidate_source.CandidateSource``)."""
