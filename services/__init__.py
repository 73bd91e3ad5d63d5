"""The domain operations. Each public function is one use case: it checks, acts, audits and commits once."""
