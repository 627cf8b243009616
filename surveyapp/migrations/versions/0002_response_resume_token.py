"""Personal resume links of open-link responses: the hashed token on the response.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    # A unique index, not a constraint: SQLite adds it without rebuilding the table, and both
    # databases allow any number of NULLs (invitation responses have no resume token).
    op.add_column('response', sa.Column('resume_token_hash', sa.String(length=64),
                                        nullable=True))
    op.create_index(op.f('ix_response_resume_token_hash'), 'response', ['resume_token_hash'],
                    unique=True)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f('ix_response_resume_token_hash'), table_name='response')
    with op.batch_alter_table('response') as batch:
        batch.drop_column('resume_token_hash')
