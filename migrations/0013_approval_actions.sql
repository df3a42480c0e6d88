-- The action an approval request is for (`{"executor", "params"}`, the parameters as the
-- request's hash binds them: command, env, cwd, input), so that the person deciding sees
-- all of it, not only the command the guard's reasons quote. NULL for older requests.
ALTER TABLE approvals ADD COLUMN action TEXT;
