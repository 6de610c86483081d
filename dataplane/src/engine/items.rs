//! Single-item operations (PutItem, GetItem, UpdateItem, DeleteItem) and the batch operations
//! built from them. Every write evaluates its condition and writes under the item's lock, so a
//! conditional write or an update is atomic against concurrent writers of the same item.

use std::sync::Arc;

use tabula_core::Item;
use tabula_core::expr::{Condition, Projection, UpdateExpr};

use super::{
    ConsumedCapacity, Engine, PrimaryKey, Table, check_new_item, check_update_depth,
    check_update_size, read_units, write_units,
};
use crate::error::{ApiError, ApiResult, ErrorKind};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ReturnValues {
    #[default]
    None,
    AllOld,
    UpdatedOld,
    AllNew,
    UpdatedNew,
}

/// What an item write returns.
#[derive(Debug, Default)]
pub struct WriteOutcome {
    pub attributes: Option<Item>,
    pub consumed: ConsumedCapacity,
}

pub struct PutItemInput {
    pub table: String,
    pub item: Item,
    /// Whether the caller reports consumed capacity (which depends on the old item's size).
    pub report_capacity: bool,
    pub condition: Option<Condition>,
    pub return_values: ReturnValues,
    pub return_old_on_failure: bool,
}

pub struct DeleteItemInput {
    pub table: String,
    pub key: Item,
    pub condition: Option<Condition>,
    pub return_values: ReturnValues,
    pub return_old_on_failure: bool,
}

pub struct UpdateItemInput {
    pub table: String,
    pub key: Item,
    pub update: Option<UpdateExpr>,
    pub condition: Option<Condition>,
    pub return_values: ReturnValues,
    pub return_old_on_failure: bool,
}

pub struct GetItemInput {
    pub table: String,
    pub key: Item,
    pub consistent: bool,
    pub projection: Option<Projection>,
}

#[derive(Debug, Default)]
pub struct GetItemOutput {
    /// Shared with the item cache: a hit is not copied.
    pub item: Option<Arc<Item>>,
    pub consumed: ConsumedCapacity,
}

/// A request inside BatchWriteItem.
pub enum WriteRequest {
    Put(Item),
    Delete(Item),
}

fn condition_failed(old: Option<&Item>, return_old: bool) -> ApiError {
    let mut e = ApiError::new(
        ErrorKind::ConditionalCheckFailed,
        "The conditional request failed",
    );
    if return_old && let Some(old) = old {
        e.item = Some(crate::protocol::values::item_to_json(old));
    }
    e
}

fn check_condition(
    condition: Option<&Condition>,
    old: Option<&Item>,
    return_old: bool,
) -> ApiResult<()> {
    if let Some(c) = condition {
        let empty = Item::new();
        let ok = c
            .evaluate(old.unwrap_or(&empty))
            .map_err(|e| ApiError::validation(e.message))?;
        if !ok {
            return Err(condition_failed(old, return_old));
        }
    }
    Ok(())
}

impl Engine {
    /// Durably replaces one item (`new = None` deletes it) together with its index entries,
    /// in one batch. The caller holds the item's lock and read `old` under it.
    /// Returns the write units the change cost the table's secondary indexes.
    async fn commit_item(
        &self,
        table: &Table,
        skey: Vec<u8>,
        old: Option<&Item>,
        new: Option<&Item>,
    ) -> ApiResult<super::indexes::IndexUnits> {
        // Held until the commit is done: the item cache drops the key and no read refills it
        // with the old value meanwhile.
        let _mark = self
            .cache
            .as_ref()
            .map(|c| c.begin_writes([skey.as_slice()]));
        let change = super::item_change(&self.store, table, skey, old, new, false)?;
        let mut writes = change.writes;
        if let Some((key, delta)) = change.collection {
            writes.push(super::indexes::collection_checked(
                &self.store,
                key,
                delta,
                0,
                self.config.item_collection_limit,
            )?);
        }
        self.log.write(writes).await?;
        Ok(change.index_units)
    }

    pub async fn put_item(&self, input: PutItemInput) -> ApiResult<WriteOutcome> {
        let table = self.table(&input.table)?;
        if !matches!(
            input.return_values,
            ReturnValues::None | ReturnValues::AllOld
        ) {
            return Err(ApiError::validation("Return values set to invalid value"));
        }
        let key = table.key_from_item(&input.item)?;
        check_new_item(&input.item)?;
        let skey = table.storage_key(&key);
        let (_guard, table) = self.lock_item(&table, &skey).await?;
        table.check_index_keys(&input.item, false)?;
        // An unconditional put that returns nothing, on a table without indexes or stream,
        // does not need the old item: skip the read.
        let needs_old = input.condition.is_some()
            || input.return_values == ReturnValues::AllOld
            || input.report_capacity
            || !table.def.indexes.is_empty()
            || super::current_stream(&table).is_some();
        let old = if needs_old {
            self.store.get(&table.handle, &skey)?
        } else {
            None
        };
        check_condition(
            input.condition.as_ref(),
            old.as_ref(),
            input.return_old_on_failure,
        )?;
        let indexes = self
            .commit_item(&table, skey, old.as_ref(), Some(&input.item))
            .await?;
        let size = item_size_opt(old.as_ref()).max(tabula_core::value::item_size(&input.item));
        Ok(WriteOutcome {
            attributes: match input.return_values {
                ReturnValues::AllOld => old,
                _ => None,
            },
            consumed: ConsumedCapacity {
                table: input.table,
                read_units: 0.0,
                write_units: write_units(size),
                indexes,
            },
        })
    }

    pub async fn delete_item(&self, input: DeleteItemInput) -> ApiResult<WriteOutcome> {
        let table = self.table(&input.table)?;
        if !matches!(
            input.return_values,
            ReturnValues::None | ReturnValues::AllOld
        ) {
            return Err(ApiError::validation("Return values set to invalid value"));
        }
        let key = table.key_from_key_param(&input.key)?;
        let skey = table.storage_key(&key);
        let (_guard, table) = self.lock_item(&table, &skey).await?;
        let old = self.store.get(&table.handle, &skey)?;
        check_condition(
            input.condition.as_ref(),
            old.as_ref(),
            input.return_old_on_failure,
        )?;
        let indexes = if old.is_some() {
            self.commit_item(&table, skey, old.as_ref(), None).await?
        } else {
            Default::default()
        };
        let size = item_size_opt(old.as_ref());
        Ok(WriteOutcome {
            attributes: match input.return_values {
                ReturnValues::AllOld => old,
                _ => None,
            },
            consumed: ConsumedCapacity {
                table: input.table,
                read_units: 0.0,
                write_units: write_units(size),
                indexes,
            },
        })
    }

    pub async fn update_item(&self, input: UpdateItemInput) -> ApiResult<WriteOutcome> {
        let table = self.table(&input.table)?;
        let key = table.key_from_key_param(&input.key)?;
        if let Some(u) = &input.update {
            let ks = &table.def.key_schema;
            for attr in u.top_level_attrs() {
                if attr == ks.hash || ks.range.as_deref() == Some(attr.as_str()) {
                    return Err(ApiError::validation(format!(
                        "One or more parameter values were invalid: Cannot update attribute {attr}. This attribute is part of the key"
                    )));
                }
            }
        }
        let skey = table.storage_key(&key);
        let (_guard, table) = self.lock_item(&table, &skey).await?;
        let old = self.store.get(&table.handle, &skey)?;
        check_condition(
            input.condition.as_ref(),
            old.as_ref(),
            input.return_old_on_failure,
        )?;
        let mut new = old.clone().unwrap_or_else(|| input.key.clone());
        if let Some(u) = &input.update {
            u.apply(&mut new)
                .map_err(|e| ApiError::validation(e.message))?;
        }
        if let Some(u) = &input.update {
            check_update_depth(&new, u)?;
        }
        check_update_size(&new)?;
        table.check_index_keys(&new, true)?;
        let indexes = self
            .commit_item(&table, skey, old.as_ref(), Some(&new))
            .await?;
        let size = item_size_opt(old.as_ref()).max(tabula_core::value::item_size(&new));
        // UPDATED_OLD/UPDATED_NEW project the old or the new item on the paths the update
        // touched, as a ProjectionExpression of them would: `SET a.c[1] = :v` returns
        // `{a: {c: [element 1]}}`, an element that did not exist is left out (`SET l[100]`
        // appends, so UPDATED_NEW returns nothing), and after `REMOVE l[1]` UPDATED_NEW
        // returns the element that moved into place 1 (scylladb's alternator tests,
        // test_update_item_returnvalues_nested, checked against DynamoDB).
        let touched = Projection::of_paths(
            input
                .update
                .as_ref()
                .map(|u| u.actions.iter().map(|a| a.path().clone()).collect())
                .unwrap_or_default(),
        );
        let pick = |item: &Item| -> Item { touched.apply(item) };
        let attributes = match input.return_values {
            ReturnValues::None => None,
            ReturnValues::AllOld => old.clone(),
            ReturnValues::AllNew => Some(new.clone()),
            ReturnValues::UpdatedOld => old.as_ref().map(pick),
            ReturnValues::UpdatedNew => Some(pick(&new)),
        }
        .filter(|m| !m.is_empty());
        Ok(WriteOutcome {
            attributes,
            consumed: ConsumedCapacity {
                table: input.table,
                read_units: 0.0,
                write_units: write_units(size),
                indexes,
            },
        })
    }

    pub fn get_item(&self, input: GetItemInput) -> ApiResult<GetItemOutput> {
        let table = self.table(&input.table)?;
        let key = table.key_from_key_param(&input.key)?;
        let skey = table.storage_key(&key);
        let item = match &self.cache {
            None => self.store.get(&table.handle, &skey)?.map(Arc::new),
            Some(cache) => match cache.get(&skey) {
                Some(hit) => Some(hit),
                None => {
                    let seen = cache.version(&skey);
                    let item = self.store.get(&table.handle, &skey)?.map(Arc::new);
                    if let Some(i) = &item {
                        cache.fill(&skey, i.clone(), seen);
                    }
                    item
                }
            },
        };
        let units = read_units(item_size_opt(item.as_deref()), input.consistent);
        let item = match (&input.projection, item) {
            (Some(p), Some(i)) => Some(Arc::new(p.apply(&i))),
            (_, i) => i,
        };
        Ok(GetItemOutput {
            item,
            consumed: ConsumedCapacity {
                table: input.table,
                read_units: units,
                ..ConsumedCapacity::default()
            },
        })
    }

    /// One BatchWriteItem request on one table. Each request is applied on its own (DynamoDB
    /// makes no atomicity promise across the batch).
    pub async fn batch_write_one(
        &self,
        table: &str,
        request: WriteRequest,
    ) -> ApiResult<WriteOutcome> {
        match request {
            WriteRequest::Put(item) => {
                self.put_item(PutItemInput {
                    table: table.to_string(),
                    item,
                    report_capacity: true,
                    condition: None,
                    return_values: ReturnValues::None,
                    return_old_on_failure: false,
                })
                .await
            }
            WriteRequest::Delete(key) => {
                self.delete_item(DeleteItemInput {
                    table: table.to_string(),
                    key,
                    condition: None,
                    return_values: ReturnValues::None,
                    return_old_on_failure: false,
                })
                .await
            }
        }
    }

    /// Validates a batch request's key for `table` and returns its storage key, so the protocol
    /// layer can reject duplicates before anything is written.
    pub fn batch_storage_key(&self, table: &str, request: &WriteRequest) -> ApiResult<Vec<u8>> {
        let t = self.table(table)?;
        let key = match request {
            WriteRequest::Put(item) => {
                check_new_item(item)?;
                // BatchWriteItem words a missing or mistyped key element like a bad Key.
                let ks = &t.def.key_schema;
                for name in std::iter::once(&ks.hash).chain(ks.range.iter()) {
                    if item.get(name).and_then(|v| v.scalar_type()) != t.def.attribute_type(name) {
                        return Err(ApiError::validation(
                            "The provided key element does not match the schema",
                        ));
                    }
                }
                let key = t.key_from_item(item)?;
                t.check_index_keys(item, false)?;
                key
            }
            WriteRequest::Delete(key) => t.key_from_key_param(key)?,
        };
        Ok(t.storage_key(&key))
    }

    /// Validates a key for `table` (BatchGetItem) and returns its storage key.
    pub fn key_storage_bytes(
        &self,
        table: &str,
        key: &Item,
    ) -> ApiResult<(std::sync::Arc<Table>, PrimaryKey, Vec<u8>)> {
        let t = self.table(table)?;
        let k = t.key_from_key_param(key)?;
        let s = t.storage_key(&k);
        Ok((t, k, s))
    }
}

fn item_size_opt(item: Option<&Item>) -> usize {
    item.map(tabula_core::value::item_size).unwrap_or(0)
}
