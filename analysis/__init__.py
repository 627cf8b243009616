"""Statistics: the design-based survey engine and the skills-gap indicators.

Never imports Flask, SQLAlchemy or `surveyapp`: it takes data frames and questionnaire
objects, so an analyst can run it without a server.
"""
