"""Initial schema: tenants, users, questionnaire versions, campaigns, frame, responses.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('association',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_association')),
    sa.UniqueConstraint('code', name=op.f('uq_association_code'))
    )
    op.create_table('questionnaire_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('questionnaire_id', sa.String(length=100), nullable=False),
    sa.Column('version', sa.String(length=50), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('source_language', sa.String(length=16), nullable=False),
    sa.Column('languages', sa.JSON(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('structure', sa.JSON(), nullable=False),
    sa.Column('translations', sa.JSON(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_questionnaire_version')),
    sa.UniqueConstraint('questionnaire_id', 'version', name=op.f('uq_questionnaire_version_questionnaire_id_version'))
    )
    op.create_table('rate_limit_counter',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('window_start', sa.Integer(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key', 'window_start', name=op.f('pk_rate_limit_counter'))
    )
    op.create_table('campaign',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('association_id', sa.Integer(), nullable=False),
    sa.Column('questionnaire_version_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('languages', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('fieldwork_start', sa.Date(), nullable=True),
    sa.Column('fieldwork_end', sa.Date(), nullable=True),
    sa.Column('open_link_key', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('draft', 'open', 'closed')", name=op.f('ck_campaign_status')),
    sa.ForeignKeyConstraint(['association_id'], ['association.id'], name=op.f('fk_campaign_association_id_association'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['questionnaire_version_id'], ['questionnaire_version.id'], name=op.f('fk_campaign_questionnaire_version_id_questionnaire_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign')),
    sa.UniqueConstraint('open_link_key', name=op.f('uq_campaign_open_link_key'))
    )
    op.create_index(op.f('ix_campaign_association_id'), 'campaign', ['association_id'], unique=False)
    op.create_index(op.f('ix_campaign_questionnaire_version_id'), 'campaign', ['questionnaire_version_id'], unique=False)

    op.create_table('company',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('association_id', sa.Integer(), nullable=False),
    sa.Column('external_ref', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('region', sa.String(length=16), nullable=True),
    sa.Column('nace', sa.String(length=16), nullable=True),
    sa.Column('size_class', sa.String(length=16), nullable=True),
    sa.Column('employees', sa.Integer(), nullable=True),
    sa.Column('contact_name', sa.String(length=200), nullable=True),
    sa.Column('contact_email', sa.String(length=320), nullable=True),
    sa.ForeignKeyConstraint(['association_id'], ['association.id'], name=op.f('fk_company_association_id_association'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_company')),
    sa.UniqueConstraint('association_id', 'external_ref', name=op.f('uq_company_association_id_external_ref'))
    )
    op.create_index(op.f('ix_company_association_id'), 'company', ['association_id'], unique=False)

    op.create_table('user_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('association_id', sa.Integer(), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=256), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role = 'admin' OR association_id IS NOT NULL", name=op.f('ck_user_account_tenant')),
    sa.CheckConstraint("role IN ('manager', 'analyst', 'admin')", name=op.f('ck_user_account_role')),
    sa.ForeignKeyConstraint(['association_id'], ['association.id'], name=op.f('fk_user_account_association_id_association'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_account')),
    sa.UniqueConstraint('email', name=op.f('uq_user_account_email'))
    )
    op.create_index(op.f('ix_user_account_association_id'), 'user_account', ['association_id'], unique=False)

    op.create_table('invitation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('created', 'sent', 'used', 'revoked')", name=op.f('ck_invitation_status')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_invitation_campaign_id_campaign'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_invitation_company_id_company'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitation')),
    sa.UniqueConstraint('campaign_id', 'company_id', name=op.f('uq_invitation_campaign_id_company_id')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_invitation_token_hash'))
    )
    op.create_index(op.f('ix_invitation_campaign_id'), 'invitation', ['campaign_id'], unique=False)
    op.create_index(op.f('ix_invitation_company_id'), 'invitation', ['company_id'], unique=False)

    op.create_table('response',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=32), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('invitation_id', sa.Integer(), nullable=True),
    sa.Column('questionnaire_version_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('current_section', sa.String(length=100), nullable=True),
    sa.Column('page_seconds', sa.JSON(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('in_progress', 'submitted')", name=op.f('ck_response_status')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_response_campaign_id_campaign'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['invitation_id'], ['invitation.id'], name=op.f('fk_response_invitation_id_invitation'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['questionnaire_version_id'], ['questionnaire_version.id'], name=op.f('fk_response_questionnaire_version_id_questionnaire_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_response')),
    sa.UniqueConstraint('key', name=op.f('uq_response_key'))
    )
    op.create_index(op.f('ix_response_campaign_id'), 'response', ['campaign_id'], unique=False)
    op.create_index(op.f('ix_response_questionnaire_version_id'), 'response', ['questionnaire_version_id'], unique=False)
    op.create_index('uq_response_invitation_in_progress', 'response', ['invitation_id'], unique=True, sqlite_where=sa.text("status = 'in_progress'"), postgresql_where=sa.text("status = 'in_progress'"))
    op.create_index('uq_response_invitation_submitted', 'response', ['invitation_id'], unique=True, sqlite_where=sa.text("status = 'submitted'"), postgresql_where=sa.text("status = 'submitted'"))



def downgrade() -> None:
    """Revert this revision."""
    op.drop_index('uq_response_invitation_submitted', table_name='response', sqlite_where=sa.text("status = 'submitted'"), postgresql_where=sa.text("status = 'submitted'"))
    op.drop_index('uq_response_invitation_in_progress', table_name='response', sqlite_where=sa.text("status = 'in_progress'"), postgresql_where=sa.text("status = 'in_progress'"))
    op.drop_index(op.f('ix_response_questionnaire_version_id'), table_name='response')
    op.drop_index(op.f('ix_response_campaign_id'), table_name='response')

    op.drop_table('response')
    op.drop_index(op.f('ix_invitation_company_id'), table_name='invitation')
    op.drop_index(op.f('ix_invitation_campaign_id'), table_name='invitation')

    op.drop_table('invitation')
    op.drop_index(op.f('ix_user_account_association_id'), table_name='user_account')

    op.drop_table('user_account')
    op.drop_index(op.f('ix_company_association_id'), table_name='company')

    op.drop_table('company')
    op.drop_index(op.f('ix_campaign_questionnaire_version_id'), table_name='campaign')
    op.drop_index(op.f('ix_campaign_association_id'), table_name='campaign')

    op.drop_table('campaign')
    op.drop_table('rate_limit_counter')
    op.drop_table('questionnaire_version')
    op.drop_table('association')
