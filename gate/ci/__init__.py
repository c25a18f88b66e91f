"""What the model-gate workflow decides, as functions the tests drive: which pointer changed
(`changes`), one stage's result (`stage`), and one check and comment for all stages (`summary`)."""
