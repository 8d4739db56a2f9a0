import { Errors } from '../errors.js'
import type { MessageStore, SearchEntry, SearchStore, StoredMessage } from '../../db/store.js'
import { fold, keywordBloom } from '../../db/search-index.js'
import { convIdFor } from '../messages/ids.js'
import { elemMaskOf } from '../messages/rules.js'
import type { Identity, MessageService } from '../messages/service.js'
import type { MessageSearchParam, MessageSearchResult, MessageSearchResultItem } from './schemas.js'

/** TIMKeywordListMatchType */
const MatchType = { Any: 0, All: 1 } as const

/** Newest first: history order, backwards. */
const newestFirst = (a: SearchEntry, b: SearchEntry) => b.serverTime - a.serverTime || b.seq - a.seq || b.id - a.id

/** TIMMsgSearchLocalMessages over the index (CONTRACT §10). Nothing here knows HTTP or SQL. */
export class SearchService {
  constructor (
    private readonly index: SearchStore,
    private readonly stored: MessageStore,
    private readonly messages: MessageService,
  ) {}

  async search (who: Identity, p: MessageSearchParam): Promise<MessageSearchResult> {
    const keywords = (p.msg_search_param_keyword_array ?? []).map(fold)
    const senders = new Set([...p.msg_search_param_send_indentifier_array ?? [], ...p.msg_search_param_send_identifier_array ?? []])
    const types = elemMaskOf(p.msg_search_param_message_type_array)
    if (keywords.length === 0 && senders.size === 0 && types === 0) {
      throw Errors.invalidParameter('msg_search_param_keyword_array may be empty only when msg_search_param_send_indentifier_array or msg_search_param_message_type_array is given')
    }
    const all = p.msg_search_param_keyword_list_match_type === MatchType.All
    const position = p.msg_search_param_search_time_position ?? 0
    const to = position === 0 ? this.messages.now() : position
    const period = p.msg_search_param_search_time_period ?? 0
    const from = period === 0 ? -Infinity : to - period
    const convKey = await this.#conversation(who, p)

    const hasKeyword = (k: string, texts: readonly string[]) => texts.some(t => t.includes(k))
    const match = (e: SearchEntry) => e.serverTime >= from && e.serverTime <= to &&
      (senders.size === 0 || senders.has(e.sender)) &&
      (types === 0 || (e.elemMask & types) !== 0) &&
      (keywords.length === 0 || (all ? keywords.every(k => hasKeyword(k, e.texts)) : keywords.some(k => hasKeyword(k, e.texts))))
    // All keywords: a block must hold the grams of every one; any: of one of them.
    const each = keywords.map(keywordBloom)
    const blooms = keywords.length === 0 ? undefined : all ? [each.reduce((u, b) => u.map((x, i) => x | b[i]!) as Buffer)] : each
    const found = await this.index.search({ viewer: who.actAs, ...(convKey !== undefined && { convKey }), ...(blooms !== undefined && { blooms, keywords }) }, match)
    found.sort(newestFirst)

    const size = p.msg_search_param_page_size ?? 20
    const start = (p.msg_search_param_page_index ?? 0) * size
    if (convKey !== undefined) {
      const page = found.slice(start, start + size)
      return {
        msg_search_result_total_count: found.length,
        msg_search_result_item_array: page.length === 0 ? [] : [await this.#item(who, convKey, found.length, page)],
      }
    }
    // By conversation, in the order of their newest match.
    const byConv = new Map<string, SearchEntry[]>()
    for (const e of found) {
      const list = byConv.get(e.convKey)
      if (list === undefined) byConv.set(e.convKey, [e])
      else list.push(e)
    }
    const page = [...byConv].slice(start, start + size)
    return {
      msg_search_result_total_count: byConv.size,
      msg_search_result_item_array: await Promise.all(page.map(([key, list]) => this.#item(who, key, list.length, list.length === 1 ? list : []))),
    }
  }

  /** The conversation searched (its store key), checked as for any request to it; undefined: all. */
  async #conversation (who: Identity, p: MessageSearchParam): Promise<string | undefined> {
    const id = p.msg_search_param_conv_id
    if (id === undefined || id === '') return undefined
    const type = p.msg_search_param_conv_type
    if (type !== 1 && type !== 2) throw Errors.invalidParameter('msg_search_param_conv_type must be 1 (C2C) or 2 (group) with msg_search_param_conv_id')
    return (await this.messages.access(who, `${type === 1 ? 'c2c' : 'group'}_${id}`)).key
  }

  async #item (who: Identity, convKey: string, count: number, entries: SearchEntry[]): Promise<MessageSearchResultItem> {
    const { convId, convType } = convIdFor(convKey, who.actAs)
    const stored = await Promise.all(entries.map(e => this.stored.get(convKey, who.actAs, e.id)))
    return {
      msg_search_result_item_conv_id: convId,
      msg_search_result_item_conv_type: convType,
      msg_search_result_item_total_message_count: count,
      msg_search_result_item_message_array: await this.messages.viewsFor(who.actAs, stored.filter((m): m is StoredMessage => m !== undefined)),
    }
  }
}
