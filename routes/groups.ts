import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { errors, example } from './responses.js'

const tags = ['groups']
const GroupParams = Type.Object({ groupID: Type.String({ description: 'the group ID (1-48 bytes of printable ASCII, else 10015), URL-encoded', examples: ['team1'] }) })
const MemberParams = Type.Object({ ...GroupParams.properties, userID: Type.String({ description: 'a UserID (1-32 bytes of printable ASCII, else 7003), URL-encoded', examples: ['user3'] }) })
const GroupOut = Type.Object({
  group_id: Type.String({ description: 'the group ID' }),
  group_name: Type.String({ description: 'the group name' }),
  group_owner: Type.String({ description: 'the owner\'s UserID' }),
  group_admin_array: Type.Array(Type.String(), { description: 'group admins\' UserIDs' }),
  group_member_array: Type.Array(Type.String(), { description: 'every member, owner and admins included, in join order' }),
}, { title: 'Group', description: 'the group' })
const NewGroup = Type.Object({
  group_id: Type.Optional(Type.String({ description: '1-48 bytes of printable ASCII; generated when absent' })),
  group_name: Type.Optional(Type.String({ maxLength: 256, description: 'defaults to the group ID' })),
  group_member_array: Type.Optional(Type.Array(Type.String(), { maxItems: 2000, description: 'UserIDs to add as members besides the creator (the owner)' })),
}, { additionalProperties: false, title: 'NewGroup' })

/** Minimal group management (CONTRACT §4): every membership change appends a group-tips message. */
const groupRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/groups', {
    config: { idempotent: true },
    schema: {
      tags,
      operationId: 'createGroup',
      summary: 'Create a group; the caller becomes its owner',
      body: example(NewGroup, { group_id: 'team1', group_name: 'Team 1', group_member_array: ['user2'] }),
      response: { 201: GroupOut, ...errors(400, 401, 403, 409, 413, 415) },
    },
  }, async (request, reply) => reply.status(201).send(await app.groups.create(request.identity, request.body)))

  app.get('/groups/:groupID', {
    schema: { tags, operationId: 'getGroup', summary: 'A group and its members (members only)', params: GroupParams, response: { 200: GroupOut, ...errors(400, 401, 403, 404) } },
  }, async (request) => app.groups.get(request.identity, request.params.groupID))

  app.put('/groups/:groupID/members/:userID', {
    schema: { tags, operationId: 'addGroupMember', summary: 'Add a member (owner or group admin); group tips 1 invite', params: MemberParams, response: { 200: GroupOut, ...errors(400, 401, 403, 404) } },
  }, async (request) => app.groups.addMember(request.identity, request.params.groupID, request.params.userID))

  app.delete('/groups/:groupID/members/:userID', {
    schema: { tags, operationId: 'removeGroupMember', summary: 'Remove a member: itself (2 quit), or by the owner or a group admin (3 kick)', params: MemberParams, response: { 200: GroupOut, ...errors(400, 401, 403, 404) } },
  }, async (request) => app.groups.removeMember(request.identity, request.params.groupID, request.params.userID))

  app.put('/groups/:groupID/admins/:userID', {
    schema: { tags, operationId: 'setGroupAdmin', summary: 'Make a member a group admin (owner); group tips 4', params: MemberParams, response: { 200: GroupOut, ...errors(400, 401, 403, 404) } },
  }, async (request) => app.groups.setAdmin(request.identity, request.params.groupID, request.params.userID, true))

  app.delete('/groups/:groupID/admins/:userID', {
    schema: { tags, operationId: 'cancelGroupAdmin', summary: 'Cancel a group admin (owner); group tips 5', params: MemberParams, response: { 200: GroupOut, ...errors(400, 401, 403, 404) } },
  }, async (request) => app.groups.setAdmin(request.identity, request.params.groupID, request.params.userID, false))
}

export default groupRoutes
