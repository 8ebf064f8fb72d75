"""Consultations (surveys): the builder, responding on every channel, analysis, exports and
"We asked, you said, we did". See ``models.py`` for the lifecycle and ``answers.py`` for the one
place each question type's answer is validated."""
