"""What users run on a trained model: predict, explain, diagnose."""
